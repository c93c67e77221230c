//! How every service writes an audited change, so each does it the same way: the object's
//! [`Target`] is named once and used for the success event and for a refusal alike; a refused
//! attempt is recorded (outcome `failure`, the reason in the details) through
//! [`Store::record`]; a stored row's [`Version`] is parsed and compared in one place; action
//! names are the constants of [`action`].
//!
//! The change itself and its success event still commit together through the noun's own port
//! (`apply_*_changes(changes, event)`), which is what makes them atomic.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::audit::{Actor, AuditDraft, Outcome};
use crate::ports::Store;
use crate::Error;

/// The object an audit event is about, as `<kind>:<key>`. Objects with a generated id are
/// named by it (names change; the id does not), objects whose natural key is their identity
/// (a hostname) by that key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target(String);

impl Target {
    pub fn policy(id: &str) -> Target {
        Target(format!("policy:{id}"))
    }
    pub fn client(id: &str) -> Target {
        Target(format!("client:{id}"))
    }
    pub fn key_set(id: &str) -> Target {
        Target(format!("key_set:{id}"))
    }
    pub fn pinset(hostname: &str) -> Target {
        Target(format!("pinset:{}", hostname.trim()))
    }
    pub fn hostname(hostname: &str) -> Target {
        Target(format!("hostname:{}", hostname.trim()))
    }
    pub fn release(id: &str) -> Target {
        Target(format!("release:{id}"))
    }
    /// One certificate (by id): a download of its private key names the certificate, not
    /// only its hostname, since a hostname's certificates change with every rotation.
    pub fn certificate(id: &str) -> Target {
        Target(format!("certificate:{id}"))
    }
    pub fn csr(id: &str) -> Target {
        Target(format!("csr:{id}"))
    }
    pub fn ca(subject: &str) -> Target {
        Target(format!("ca:{}", subject.trim()))
    }
    pub fn gate(id: &str) -> Target {
        Target(format!("gate:{id}"))
    }
    pub fn bundle(version: i64) -> Target {
        Target(format!("bundle:{version}"))
    }
    pub fn admin(id: &str) -> Target {
        Target(format!("admin:{id}"))
    }
    pub fn invite(id: &str) -> Target {
        Target(format!("invite:{id}"))
    }
    pub fn api_token(id: &str) -> Target {
        Target(format!("api_token:{id}"))
    }
    /// A collector the audit log is forwarded to (`tcp://host:port`, `tls://host:port`).
    pub fn forwarding(destination: &str) -> Target {
        Target(format!("audit_forwarding:{destination}"))
    }
    pub fn gate_settings() -> Target {
        Target("gate_settings".into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The optimistic-concurrency version of a stored row: the page sends back the version it
/// showed, and a change applies only if the row still has it (else `Conflict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(i64);

impl Version {
    /// A row's first version.
    pub const FIRST: Version = Version(1);

    pub fn new(v: i64) -> Version {
        Version(v)
    }

    /// The version a form sent back for a `noun` ("policy", "client" …).
    pub fn parse(text: &str, noun: &str) -> Result<Version, Error> {
        text.trim()
            .parse()
            .map(Version)
            .map_err(|_| Error::invalid(format!("the {noun} version is missing; reload the page")))
    }

    /// The version a change writes.
    pub fn next(self) -> Version {
        Version(self.0 + 1)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// `Ok` when the stored row still has the version the admin edited, else the conflict
    /// message naming both.
    pub fn expect(self, stored: i64, what: &str) -> Result<(), Error> {
        if stored == self.0 {
            Ok(())
        } else {
            Err(Error::Conflict(format!(
                "{what} changed meanwhile (now version {stored}, you edited version {}); reload and retry",
                self.0
            )))
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Records refusals and builds success events; shared by every service.
#[derive(Clone)]
pub struct Audit {
    log: Arc<dyn Store>,
}

impl Audit {
    pub fn new(log: Arc<dyn Store>) -> Audit {
        Audit { log }
    }

    /// The success event of a change, to commit with it.
    pub fn success(actor: &Actor, action: &str, target: &Target, details: Value) -> AuditDraft {
        AuditDraft::new(actor, action, target.as_str(), Outcome::Success).with_details(details)
    }

    /// Records that `action` on `target` was refused with `err` and returns `err` (or, when
    /// even the refusal cannot be written, the store's error: fail closed).
    pub async fn refused(&self, actor: &Actor, action: &str, target: &Target, err: Error) -> Error {
        let draft = AuditDraft::new(actor, action, target.as_str(), Outcome::Failure)
            .with_details(json!({ "reason": err.to_string() }));
        match self.log.record(draft).await {
            Ok(_) => err,
            Err(e) => Error::Store(e),
        }
    }

    /// Records an event that accompanies no stored change (an operator's request, such as
    /// "push now"); fails closed if it cannot be written.
    pub async fn event(&self, draft: AuditDraft) -> Result<(), Error> {
        self.log
            .record(draft)
            .await
            .map(|_| ())
            .map_err(Error::Store)
    }

    /// Runs `work`, which commits its own success event; if it fails, records the refusal.
    pub async fn run<T>(
        &self,
        actor: &Actor,
        action: &str,
        target: &Target,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match work.await {
            Ok(t) => Ok(t),
            Err(e) => Err(self.refused(actor, action, target, e).await),
        }
    }
}

/// Audit action names, one constant each, so the services, the pages that filter on them and
/// the tests agree.
pub mod action {
    /// The action of switching something on (`on`) or off (`off`).
    pub fn switch(enabled: bool, on: &'static str, off: &'static str) -> &'static str {
        if enabled {
            on
        } else {
            off
        }
    }

    pub const ADMINS_INVITE: &str = "admins.invite";
    pub const ADMINS_REVOKE_INVITE: &str = "admins.revoke_invite";
    /// An invite was used: a new admin registered their passkey.
    pub const ADMINS_ACCEPT_INVITE: &str = "admins.accept_invite";
    pub const ADMINS_SET_ROLE: &str = "admins.set_role";
    pub const ADMINS_DISABLE: &str = "admins.disable";
    pub const ADMINS_ENABLE: &str = "admins.enable";
    pub const ADMINS_END_SESSIONS: &str = "admins.end_sessions";
    pub const ADMINS_ADD_PASSKEY: &str = "admins.add_passkey";
    pub const ADMINS_RENAME_PASSKEY: &str = "admins.rename_passkey";
    pub const ADMINS_REVOKE_PASSKEY: &str = "admins.revoke_passkey";

    pub const GATES_ADD: &str = "gates.add";
    pub const GATES_NEW_TOKEN: &str = "gates.new_token";
    pub const GATES_ENROL: &str = "gates.enrol";
    pub const GATES_REVOKE: &str = "gates.revoke";
    /// A gate applied a bundle version for the first time.
    pub const GATES_APPLY: &str = "gates.apply";
    /// A gate refused a bundle (NACK), with its reason.
    pub const GATES_REFUSE: &str = "gates.refuse";
    /// A gate registered or replaced, in a signed status report, the X25519 key its private
    /// material is sealed to (the details hold the key's fingerprint).
    pub const GATES_ENCRYPTION_KEY: &str = "gates.encryption_key";
    pub const GATES_SETTINGS: &str = "gates.settings";
    pub const GATES_PUSH_NOW: &str = "gates.push_now";
    pub const GATES_SIGNER_CREATE: &str = "gates.signer_create";
    pub const BUNDLES_PUBLISH: &str = "bundles.publish";
    pub const POLICIES_CREATE: &str = "policies.create";
    pub const POLICIES_UPDATE: &str = "policies.update";
    pub const POLICIES_DELETE: &str = "policies.delete";
    pub const POLICIES_ENABLE: &str = "policies.enable";
    pub const POLICIES_DISABLE: &str = "policies.disable";
    pub const POLICIES_ENFORCE: &str = "policies.enforce";
    pub const POLICIES_SHADOW: &str = "policies.shadow";
    pub const POLICIES_REORDER: &str = "policies.reorder";

    pub const CLIENTS_CREATE: &str = "clients.create";
    pub const CLIENTS_UPDATE: &str = "clients.update";
    pub const CLIENTS_DELETE: &str = "clients.delete";
    pub const CLIENTS_ENABLE: &str = "clients.enable";
    pub const CLIENTS_DISABLE: &str = "clients.disable";
    pub const CLIENTS_ROTATE_SECRET: &str = "clients.rotate_secret";
    pub const CLIENTS_REVOKE_SECRET: &str = "clients.revoke_secret";

    pub const KEYS_CREATE_SET: &str = "keys.create_set";
    pub const KEYS_UPDATE_SET: &str = "keys.update_set";
    pub const KEYS_ROTATE: &str = "keys.rotate";
    pub const KEYS_CREATE_NEXT: &str = "keys.create_next";
    pub const KEYS_PROMOTE: &str = "keys.promote";
    pub const KEYS_REMOVE: &str = "keys.remove";
    pub const KEYS_REVOKE: &str = "keys.revoke";
    pub const KEYS_REWRAP_MASTER_KEY: &str = "keys.rewrap_master_key";

    /// A console started forwarding the audit log to a destination it had not sent to before
    /// (from the first event).
    pub const AUDIT_FORWARDING_ADDED: &str = "audit.forwarding_added";

    pub const CERTS_CREATE_CA: &str = "certs.create_ca";
    pub const CERTS_ISSUE: &str = "certs.issue";
    pub const CERTS_ROTATE: &str = "certs.rotate";
    pub const CERTS_CREATE_CSR: &str = "certs.create_csr";
    pub const CERTS_ACCEPT_SIGNED: &str = "certs.accept_signed";
    pub const CERTS_IMPORT: &str = "certs.import";
    pub const CERTS_PROBE: &str = "certs.probe";
    /// A certificate's private key left the console as a PEM download (after a passkey
    /// confirmation); the details name the certificate, its hostname and the key's SPKI pin,
    /// never the key.
    pub const CERTS_DOWNLOAD_KEY: &str = "certs.download_key";

    pub const PINSETS_UPDATE: &str = "pinsets.update";
    pub const PINSETS_ADD_PIN: &str = "pinsets.add_pin";
    pub const PINSETS_REMOVE_PIN: &str = "pinsets.remove_pin";
    pub const PINSETS_EXPORT_FOR_RELEASE: &str = "pinsets.export_for_release";
    pub const RELEASES_SET_SUPPORTED: &str = "releases.set_supported";

    pub const API_TOKENS_CREATE: &str = "api_tokens.create";
    pub const API_TOKENS_REVOKE: &str = "api_tokens.revoke";
    /// A REST API call refused before any endpoint ran (unknown, revoked or expired token;
    /// over the token's rate).
    pub const API_CALL: &str = "api.call";
    /// A pin set export read through the REST API.
    pub const API_PINSETS_EXPORT: &str = "api.pinsets.export";
    /// A token read the audit log (`GET /api/v1/audit`); the details hold its filters.
    pub const API_AUDIT_READ: &str = "api.audit.read";
    /// A token read the objects of an area through the REST API (`GET /api/v1/…`).
    pub const API_CLIENTS_READ: &str = "api.clients.read";
    pub const API_KEYS_READ: &str = "api.keys.read";
    pub const API_CERTS_READ: &str = "api.certs.read";
    pub const API_PINSETS_READ: &str = "api.pinsets.read";
    pub const API_RELEASES_READ: &str = "api.releases.read";
    pub const API_POLICIES_READ: &str = "api.policies.read";
    pub const API_GATES_READ: &str = "api.gates.read";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_forms_and_compare() {
        assert_eq!(Version::parse(" 3 ", "policy").ok(), Some(Version::new(3)));
        let missing = Version::parse("", "client").expect_err("empty");
        assert_eq!(
            missing.to_string(),
            "the client version is missing; reload the page"
        );
        assert_eq!(Version::FIRST.next(), Version::new(2));
        assert!(Version::new(2).expect(2, "the policy \"a\"").is_ok());
        let stale = Version::new(2)
            .expect(3, "the policy \"a\"")
            .expect_err("stale");
        assert!(stale
            .to_string()
            .contains("now version 3, you edited version 2"));
    }

    #[test]
    fn targets_name_one_object_the_same_way() {
        assert_eq!(Target::client("c1").as_str(), "client:c1");
        assert_eq!(
            Target::pinset(" api.example.com ").as_str(),
            "pinset:api.example.com"
        );
    }
}
