//! The expiry timeline: certificates and pin sets on a six-month axis, with the 7-, 14- and
//! 30-day warning zones shaded, so what expires next is seen before it is read.

use leptos::prelude::*;

use crate::api::dashboard::ExpiryView;

// Coordinates are whole viewBox units (900 wide, about a pixel each). The timeline is drawn on
// the server, inside the dashboard's HTML fragment (`api::dashboard`).
const WINDOW_DAYS: i64 = 180;
const X0: i64 = 300;
const X1: i64 = 860;
const ROW: i64 = 28;
const TOP: i64 = 34;

/// The x of `days` from today on the axis, rounded to the nearest unit.
fn x(days: i64) -> i64 {
    let d = days.clamp(0, WINDOW_DAYS);
    X0 + (d * (X1 - X0) + WINDOW_DAYS / 2) / WINDOW_DAYS
}

fn when(days: i64) -> String {
    match days {
        d if d < 0 => format!("expired {} days ago", -d),
        0 => "expires today".to_owned(),
        1 => "in 1 day".to_owned(),
        d => format!("in {d} days"),
    }
}

#[component]
pub fn ExpiryTimeline(items: Vec<ExpiryView>) -> impl IntoView {
    let height = TOP + ROW * i64::try_from(items.len().max(1)).unwrap_or(i64::MAX / 64) + 10;
    let soonest = items
        .first()
        .map(|i| format!("{} {} {}", i.kind, i.name, when(i.days_left)))
        .unwrap_or_default();
    let label = format!(
        "Expiry timeline of {} items over the next six months; soonest: {soonest}",
        items.len()
    );
    let ticks = [0i64, 7, 14, 30, 60, 90, 120, 180];
    view! {
        <svg class="timeline" viewBox=format!("0 0 900 {height}") role="img" aria-label=label>
            <rect class="zone zone-7" x=x(0) y="18" width=x(7) - x(0) height=height - 18/>
            <rect class="zone zone-14" x=x(7) y="18" width=x(14) - x(7) height=height - 18/>
            <rect class="zone zone-30" x=x(14) y="18" width=x(30) - x(14) height=height - 18/>
            {ticks.into_iter().map(|t| view! {
                <line class="tick" x1=x(t) x2=x(t) y1="18" y2=height/>
                {(t != 7 && t != 14).then(|| view! {
                    <text class="tick-label" x=x(t) y="12" text-anchor="middle">{if t == 0 { "today".to_owned() } else { format!("{t} d") }}</text>
                })}
            }).collect_view()}
            {items.into_iter().enumerate().map(|(i, item)| {
                let y = TOP + ROW * i64::try_from(i).unwrap_or(0);
                let beyond = item.days_left > WINDOW_DAYS;
                view! {
                    <g class=format!("item level-{}", item.level)>
                        <text class="item-label" x=X0 - 10 y=y + 4 text-anchor="end">{format!("{}: {}", item.kind, item.name)}</text>
                        <line class="row-line" x1=X0 x2=x(item.days_left) y1=y y2=y/>
                        <circle cx=x(item.days_left) cy=y r="6"/>
                        <text class="item-date" x=x(item.days_left) + if beyond { -10 } else { 10 } y=y + 4
                            text-anchor=if beyond { "end" } else { "start" }>
                            {format!("{}{} ({})", if beyond { "→ " } else { "" }, item.date, when(item.days_left))}
                        </text>
                    </g>
                }
            }).collect_view()}
        </svg>
    }
}
