//! The session cookie: its name and attributes, in one place for the server fns that set it and
//! the middleware that reads it.
//!
//! `HttpOnly` and `SameSite=Strict` always; under TLS also `Secure` and the `__Host-` prefix
//! (RFC 6265bis §4.1.3.2), which pins the cookie to this exact origin and path `/`.

use http::HeaderMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookiePolicy {
    /// True when the console is served over HTTPS.
    pub secure: bool,
    /// Absolute session lifetime, used as the cookie's Max-Age.
    pub max_age_s: i64,
}

impl CookiePolicy {
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-palisade_session"
        } else {
            "palisade_session"
        }
    }

    fn attributes(&self) -> &'static str {
        if self.secure {
            "Path=/; HttpOnly; SameSite=Strict; Secure"
        } else {
            "Path=/; HttpOnly; SameSite=Strict"
        }
    }

    /// `Set-Cookie` value that stores `token`.
    pub fn set(&self, token: &str) -> String {
        format!(
            "{}={}; {}; Max-Age={}",
            self.name(),
            token,
            self.attributes(),
            self.max_age_s
        )
    }

    /// `Set-Cookie` value that removes the cookie.
    pub fn clear(&self) -> String {
        format!("{}=; {}; Max-Age=0", self.name(), self.attributes())
    }

    /// The session token the browser sent, if any.
    pub fn read(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == self.name())
            .map(|(_, v)| v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookie_uses_host_prefix_and_all_flags() {
        let p = CookiePolicy {
            secure: true,
            max_age_s: 43200,
        };
        assert_eq!(
            p.set("t"),
            "__Host-palisade_session=t; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=43200"
        );
        let plain = CookiePolicy {
            secure: false,
            max_age_s: 60,
        };
        assert_eq!(
            plain.set("t"),
            "palisade_session=t; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        assert!(plain.clear().contains("Max-Age=0"));
    }

    #[test]
    fn reads_the_right_cookie() {
        let p = CookiePolicy {
            secure: false,
            max_age_s: 60,
        };
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=1; palisade_session=abc; b=2".parse().expect("header"),
        );
        assert_eq!(p.read(&h).as_deref(), Some("abc"));
        let s = CookiePolicy {
            secure: true,
            max_age_s: 60,
        };
        assert_eq!(s.read(&h), None);
    }
}
