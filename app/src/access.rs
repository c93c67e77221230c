//! What each server fn and download needs, checked by the server's guard before the request
//! reaches it (before its arguments are even decoded): a fn or download missing here is refused
//! for everyone, and the server refuses to start with one. The roles behind each permission are
//! the table in [`policy::access`]; step-up (a passkey confirmation from the last five minutes
//! in this session) is part of the rule where an action always needs it. Actions that need it
//! only for some arguments (switching a policy to enforce, changing a client's redirect URIs)
//! check it in the server fn.

use policy::access::{Permission, Role};

/// What a caller needs to reach a server fn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Anyone: setup, invites and sign-in.
    Public,
    /// Any signed-in admin, whatever the role: their own session, passkeys and step-up.
    SignedIn,
    /// A role holding the permission.
    Permission(Permission),
    /// A role holding the permission, and a step-up.
    StepUp(Permission),
}

impl Need {
    /// The permission behind the need, if any.
    pub fn permission(self) -> Option<Permission> {
        match self {
            Need::Public | Need::SignedIn => None,
            Need::Permission(p) | Need::StepUp(p) => Some(p),
        }
    }

    /// Whether `role` (`None`: anonymous) passes the permission part of the need.
    pub fn allows(self, role: Option<Role>) -> bool {
        match (self, role) {
            (Need::Public, _) => true,
            (_, None) => false,
            (Need::SignedIn, Some(_)) => true,
            (Need::Permission(p) | Need::StepUp(p), Some(r)) => r.allows(p),
        }
    }
}

/// One server fn's rule: its endpoint (the path after the fn prefix), what it needs, and the
/// audit action a refusal is recorded under.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub endpoint: &'static str,
    pub need: Need,
    pub action: &'static str,
}

const fn rule(endpoint: &'static str, need: Need, action: &'static str) -> Rule {
    Rule {
        endpoint,
        need,
        action,
    }
}

use Need::{Public, SignedIn};
use Permission::*;

const fn read(endpoint: &'static str, action: &'static str) -> Rule {
    rule(endpoint, Need::Permission(ConsoleRead), action)
}
const fn may(endpoint: &'static str, p: Permission, action: &'static str) -> Rule {
    rule(endpoint, Need::Permission(p), action)
}
const fn confirmed(endpoint: &'static str, p: Permission, action: &'static str) -> Rule {
    rule(endpoint, Need::StepUp(p), action)
}

/// Every server fn of the console.
pub const SERVER_FNS: &[Rule] = &[
    // Setup, sign-in and the signed-in admin's own session.
    rule("check_setup_link", Public, "admin.setup_owner"),
    rule("start_setup", Public, "admin.setup_owner"),
    rule("finish_setup", Public, "admin.setup_owner"),
    rule("start_login", Public, "admin.sign_in"),
    rule("finish_login", Public, "admin.sign_in"),
    rule("sign_out", SignedIn, "admin.sign_out"),
    rule("current_admin", SignedIn, "admin.current"),
    rule("start_step_up", SignedIn, "admin.step_up"),
    rule("finish_step_up", SignedIn, "admin.step_up"),
    // Joining through an invite.
    rule("check_invite", Public, "admins.accept_invite"),
    rule("start_invite", Public, "admins.accept_invite"),
    rule("finish_invite", Public, "admins.accept_invite"),
    // Admins: the team, invites, roles; each admin's own passkeys and sessions.
    read("list_admins", "admins.list"),
    confirmed("create_invite", AdminsManage, "admins.invite"),
    confirmed("revoke_invite", AdminsManage, "admins.revoke_invite"),
    confirmed("set_admin_role", AdminsManage, "admins.set_role"),
    confirmed("set_admin_disabled", AdminsManage, "admins.disable"),
    rule("end_sessions", SignedIn, "admins.end_sessions"),
    // `console:read` is every role's: these need only a signed-in admin's step-up.
    confirmed("start_add_passkey", ConsoleRead, "admins.add_passkey"),
    confirmed("finish_add_passkey", ConsoleRead, "admins.add_passkey"),
    rule("rename_passkey", SignedIn, "admins.rename_passkey"),
    // API tokens for the REST API.
    read("list_api_tokens", "api_tokens.list"),
    confirmed("create_api_token", ApiTokensManage, "api_tokens.create"),
    may("revoke_api_token", ApiTokensManage, "api_tokens.revoke"),
    confirmed("revoke_passkey", ConsoleRead, "admins.revoke_passkey"),
    // Audit log.
    rule(
        "list_audit_events",
        Need::Permission(AuditRead),
        "audit.list",
    ),
    rule(
        "verify_audit_chain",
        Need::Permission(AuditRead),
        "audit.verify",
    ),
    may("search_audit", AuditRead, "audit.search"),
    may("audit_forwarding", AuditRead, "audit.forwarding"),
    // Dashboard.
    read("dashboard", "dashboard.read"),
    // Certificates.
    read("list_certs", "certs.list"),
    read("plan_rotation", "certs.plan_rotation"),
    confirmed("create_ca", CertsIssue, "certs.create_ca"),
    confirmed("create_intermediate_ca", CertsIssue, "certs.create_ca"),
    may("issue_cert", CertsIssue, "certs.issue"),
    may("rotate_cert", CertsRotate, "certs.rotate"),
    may("create_csr", CertsIssue, "certs.create_csr"),
    may("upload_signed_cert", CertsIssue, "certs.accept_signed"),
    confirmed("import_cert", CertsIssue, "certs.import"),
    // A private key leaves the console: the strongest certificate permission (an operator
    // rotates but never takes a key home), always with a passkey confirmation.
    confirmed("create_key_download", CertsIssue, KEY_DOWNLOAD_ACTION),
    // Pin sets and app releases.
    read("list_pinsets", "pinsets.list"),
    read("export_pinset", "pinsets.export"),
    read("list_releases", "releases.list"),
    read("compute_pins", "pins.compute"),
    may("probe_pins", Probe, "pins.probe"),
    may("update_pinset", PinsetsWrite, "pinsets.update"),
    may("add_pin", PinsetsWrite, "pinsets.add_pin"),
    may("remove_pin", PinsetsWrite, "pinsets.remove_pin"),
    may(
        "export_for_release",
        PinsetsExport,
        "pinsets.export_for_release",
    ),
    may(
        "set_release_supported",
        PinsetsWrite,
        "releases.set_supported",
    ),
    // OAuth clients.
    read("list_clients", "clients.list"),
    may("save_client", ClientsWrite, "clients.save"),
    may("set_client_enabled", ClientsWrite, "clients.enable"),
    confirmed("delete_client", ClientsDelete, "clients.delete"),
    confirmed(
        "rotate_client_secret",
        ClientsSecrets,
        "clients.rotate_secret",
    ),
    confirmed(
        "revoke_client_secret",
        ClientsSecrets,
        "clients.revoke_secret",
    ),
    // Signing keys.
    read("list_key_sets", "keys.list"),
    may("create_key_set", KeysWrite, "keys.create_set"),
    may("update_key_set", KeysWrite, "keys.update_set"),
    may("rotate_signing_key", KeysRotate, "keys.rotate"),
    confirmed("revoke_signing_key", KeysRevoke, "keys.revoke"),
    // Rate-limit policies.
    read("list_policies", "policies.list"),
    may("save_policy", PoliciesWrite, "policies.save"),
    may("set_policy_enabled", PoliciesWrite, "policies.enable"),
    may("set_policy_mode", PoliciesWrite, "policies.mode"),
    may("move_policy", PoliciesWrite, "policies.reorder"),
    may("delete_policy", PoliciesWrite, "policies.delete"),
    // Gates.
    read("list_gates", "gates.list"),
    read("diff_bundles", "bundles.diff"),
    read("gate_settings", "gates.settings_read"),
    confirmed("add_gate", GatesManage, "gates.add"),
    confirmed("new_gate_token", GatesManage, "gates.new_token"),
    confirmed("revoke_gate", GatesManage, "gates.revoke"),
    may("save_gate_settings", GatesManage, "gates.settings"),
    may("push_gates_now", GatesPush, "gates.push_now"),
];

/// The rule of the server fn at `endpoint`, if there is one.
pub fn server_fn(endpoint: &str) -> Option<&'static Rule> {
    SERVER_FNS.iter().find(|r| r.endpoint == endpoint)
}

/// The audit action of a certificate key download (`domain::audited::action::CERTS_DOWNLOAD_KEY`),
/// for its server fn and its download route alike.
pub const KEY_DOWNLOAD_ACTION: &str = "certs.download_key";

/// The download route of certificates' private keys (it also needs the one-time ticket only a
/// stepped-up session gets from `create_key_download`).
pub const KEY_DOWNLOAD_PREFIX: &str = "/download/cert-key/";

/// Every download route (a path prefix under `/download/`) and what it needs.
pub const DOWNLOADS: &[(&str, Permission)] = &[
    ("/download/csr/", ConsoleRead),
    ("/download/jwks/", ConsoleRead),
    ("/download/pinsets/", ConsoleRead),
    ("/download/cert-chain/", ConsoleRead),
    ("/download/audit.", AuditRead),
    (KEY_DOWNLOAD_PREFIX, CertsIssue),
];

/// What the download at `path` needs, if it is one.
pub fn download(path: &str) -> Option<Permission> {
    DOWNLOADS
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map(|(_, p)| *p)
}

/// The audit action a refused download is recorded under: the key download's own action, so
/// its refusals sit beside its successes; `download` for the reads.
pub fn download_action(path: &str) -> &'static str {
    if path.starts_with(KEY_DOWNLOAD_PREFIX) {
        KEY_DOWNLOAD_ACTION
    } else {
        "download"
    }
}

/// What a page needs: the audit log needs `audit:read`, every other page `console:read`.
pub fn page(path: &str) -> Permission {
    if path == "/audit" || path.starts_with("/audit/") {
        AuditRead
    } else {
        ConsoleRead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_per_endpoint() {
        let mut names: Vec<_> = SERVER_FNS.iter().map(|r| r.endpoint).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "an endpoint has two rules");
    }

    #[test]
    fn needs_read_as_the_table_says() {
        let rule = |e| server_fn(e).expect("rule").need;
        assert!(rule("list_clients").allows(Some(Role::Auditor)));
        assert!(!rule("list_clients").allows(None));
        assert!(!rule("delete_client").allows(Some(Role::Operator)));
        assert!(rule("rotate_signing_key").allows(Some(Role::Operator)));
        assert!(!rule("revoke_signing_key").allows(Some(Role::Operator)));
        assert!(rule("start_login").allows(None));
        assert_eq!(download("/download/jwks/main"), Some(ConsoleRead));
        assert_eq!(download("/download/cert-chain/x"), Some(ConsoleRead));
        assert_eq!(download("/download/cert-key/x"), Some(CertsIssue));
        assert!(!rule("create_key_download").allows(Some(Role::Operator)));
        assert!(!rule("create_key_download").allows(Some(Role::Auditor)));
        assert_eq!(download_action("/download/cert-key/x"), KEY_DOWNLOAD_ACTION);
        assert_eq!(download("/downloads"), None);
        assert_eq!(page("/audit"), AuditRead);
    }
}
