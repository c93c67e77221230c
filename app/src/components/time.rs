//! Instants and durations as an admin reads them, the same on the server and in the browser:
//! `2026-11-28 10:45 UTC`, `90 days`, `15 min`. No clock and no time-zone data in the wasm.

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time in milliseconds.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        sod / 3600,
        sod % 3600 / 60
    )
}

/// A duration in the largest whole unit that fits: `90 days`, `2 h`, `15 min`, `30 s`.
pub fn duration(seconds: i64) -> String {
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => plural(s / 86_400, "day"),
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// `in 3 days` / `2 h ago`, rounded down to the largest unit; `just now` within a second.
pub fn relative(ms: i64, now_ms: i64) -> String {
    let d = (ms - now_ms) / 1000;
    let a = d.abs();
    if a == 0 {
        return "just now".into();
    }
    let text = match a {
        a if a >= 86_400 => format!("{} d", a / 86_400),
        a if a >= 3600 => format!("{} h", a / 3600),
        a if a >= 60 => format!("{} min", a / 60),
        a => format!("{a} s"),
    };
    if d >= 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_matches_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        // 2000-02-29 12:34:56 UTC (a leap day in a century leap year).
        assert_eq!(utc(951_827_696_000), "2000-02-29 12:34 UTC");
        // 2026-11-28 10:45:00 UTC.
        assert_eq!(utc(1_795_862_700_000), "2026-11-28 10:45 UTC");
        assert_eq!(utc(-1000), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn durations_and_relative_times_read_naturally() {
        assert_eq!(duration(90 * 86_400), "90 days");
        assert_eq!(duration(86_400), "1 day");
        assert_eq!(duration(7200), "2 h");
        assert_eq!(duration(900), "15 min");
        assert_eq!(duration(61), "61 s");
        assert_eq!(relative(3 * 86_400_000 + 5, 0), "in 3 d");
        assert_eq!(relative(0, 7_200_000), "2 h ago");
        assert_eq!(relative(1_000, 1_500), "just now");
    }
}
