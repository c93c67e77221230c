//! API tokens: the scopes a token for the REST API (`/api/v1`) can hold and its lifetime
//! bounds. Shared with the browser, where the API tokens page lists the scopes with what each
//! allows.

use core::fmt;

/// What a token may do. Only scopes with endpoints behind them are offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read pin sets and their exports.
    PinsetsRead,
    /// Record an app release (the pin set it ships is exported and kept with it).
    ReleasesWrite,
    /// Read the audit log (the explorer's filters).
    AuditRead,
    /// Read OAuth clients (never a secret: hints and dates only).
    ClientsRead,
    /// Read key sets, their keys' lifecycle and their JWKS.
    KeysRead,
    /// Read certificates, CAs and pending CSRs.
    CertsRead,
    /// Create a CSR for a hostname's next key and upload the certificate a CA signed for it.
    CertsWrite,
    /// Read rate-limit policies.
    PoliciesRead,
    /// Read the gate fleet and the bundle version each gate runs.
    GatesRead,
}

impl Scope {
    pub const ALL: [Scope; 9] = [
        Scope::PinsetsRead,
        Scope::ReleasesWrite,
        Scope::AuditRead,
        Scope::ClientsRead,
        Scope::KeysRead,
        Scope::CertsRead,
        Scope::CertsWrite,
        Scope::PoliciesRead,
        Scope::GatesRead,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::PinsetsRead => "pinsets:read",
            Scope::ReleasesWrite => "releases:write",
            Scope::AuditRead => "audit:read",
            Scope::ClientsRead => "clients:read",
            Scope::KeysRead => "keys:read",
            Scope::CertsRead => "certs:read",
            Scope::CertsWrite => "certs:write",
            Scope::PoliciesRead => "policies:read",
            Scope::GatesRead => "gates:read",
        }
    }

    /// One sentence for the page: what a holder of this scope can do.
    pub const fn describe(self) -> &'static str {
        match self {
            Scope::PinsetsRead => "read pin sets and download their exports (every format)",
            Scope::ReleasesWrite => {
                "record an app release: the pin set it ships is exported and kept with it, \
                 for the rotation planner"
            }
            Scope::AuditRead => "read the audit log, with the same filters as the Audit page",
            Scope::ClientsRead => "read OAuth clients (secret hints and dates, never a secret)",
            Scope::KeysRead => "read signing key sets, their keys' lifecycle and their JWKS",
            Scope::CertsRead => "read certificates, CAs and pending CSRs",
            Scope::CertsWrite => {
                "create a CSR for a hostname's next key and upload the certificate a CA signed \
                 for it (it becomes the hostname's current certificate)"
            }
            Scope::PoliciesRead => "read rate-limit policies",
            Scope::GatesRead => "read the gate fleet and the bundle version each gate runs",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scopes from a space-separated list (RFC 6749 §3.3 style): sorted, without duplicates; an
/// unknown or empty list is an error naming the choices.
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let s = Scope::parse(word).ok_or_else(|| {
            format!(
                "“{word}” is not a scope; choose from {}",
                Scope::ALL.map(Scope::as_str).join(", ")
            )
        })?;
        out.push(s);
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err("choose at least one scope".into());
    }
    Ok(out)
}

/// The scopes as stored and shown: space-separated, in order.
pub fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lifetimes a token may be created with, in days (a token that never expires is not offered:
/// a forgotten CI secret should stop working by itself).
pub const LIFETIME_DAYS: [u32; 4] = [7, 30, 90, 365];
pub const DEFAULT_LIFETIME_DAYS: u32 = 90;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_sorted_and_deduplicated_and_errors_name_the_choices() {
        assert_eq!(
            parse_scopes("releases:write pinsets:read releases:write"),
            Ok(vec![Scope::PinsetsRead, Scope::ReleasesWrite])
        );
        let e = parse_scopes("pinsets:read admin").expect_err("unknown");
        assert!(
            e.contains("“admin”")
                && e.contains("pinsets:read, releases:write, audit:read, clients:read"),
            "{e}"
        );
        assert!(parse_scopes("  ").is_err());
        assert_eq!(
            scopes_text(&Scope::ALL),
            "pinsets:read releases:write audit:read clients:read keys:read certs:read \
             certs:write policies:read gates:read"
        );
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
    }
}
