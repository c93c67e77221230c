//! Who may do what in the console: the four roles, one permission per kind of action, and the
//! table that joins them. This table is the only source of truth: the server checks every
//! server fn, download and page against it (through `app::access`), the pages hide what the
//! signed-in role lacks, and the Admins page prints it.

use serde::{Deserialize, Serialize};

/// What an admin is. `owner` can do everything, including managing other owners and ending
/// anyone's sessions; `auditor` reads everything except secrets and changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Operator,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Operator, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// One sentence for the Admins page and the invite form.
    pub fn summary(self) -> &'static str {
        match self {
            Role::Owner => "Everything, including managing owners and ending anyone's sessions.",
            Role::Admin => "Changes any configuration and manages admins other than owners.",
            Role::Operator => {
                "Runs rotations, exports pin sets, pushes to gates and probes servers; deletes, revokes and manages nothing."
            }
            Role::Auditor => "Reads every page and the audit log; changes nothing and sees no secret.",
        }
    }

    /// Whether this role holds `p`: the table.
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Admin => !matches!(p, SessionsManage),
            Role::Operator => matches!(
                p,
                ConsoleRead
                    | AuditRead
                    | KeysRotate
                    | CertsRotate
                    | PinsetsExport
                    | GatesPush
                    | Probe
            ),
            Role::Auditor => matches!(p, ConsoleRead | AuditRead),
        }
    }

    /// The permissions this role holds, in table order.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.allows(*p))
            .collect()
    }

    /// Whether an admin with this role may invite, change, disable or end the sessions of an
    /// admin with role `other` (or give someone that role): only an owner acts on owners.
    pub fn may_manage(self, other: Role) -> bool {
        self.allows(Permission::AdminsManage) && (other != Role::Owner || self == Role::Owner)
    }
}

/// One kind of action. The wire form (`clients:write`) is what audit details and the Admins
/// page show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "console:read")]
    ConsoleRead,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "clients:write")]
    ClientsWrite,
    #[serde(rename = "clients:delete")]
    ClientsDelete,
    #[serde(rename = "clients:secrets")]
    ClientsSecrets,
    #[serde(rename = "keys:write")]
    KeysWrite,
    #[serde(rename = "keys:rotate")]
    KeysRotate,
    #[serde(rename = "keys:revoke")]
    KeysRevoke,
    #[serde(rename = "certs:issue")]
    CertsIssue,
    #[serde(rename = "certs:rotate")]
    CertsRotate,
    #[serde(rename = "pinsets:write")]
    PinsetsWrite,
    #[serde(rename = "pinsets:export")]
    PinsetsExport,
    #[serde(rename = "policies:write")]
    PoliciesWrite,
    #[serde(rename = "policies:enforce")]
    PoliciesEnforce,
    #[serde(rename = "gates:manage")]
    GatesManage,
    #[serde(rename = "gates:push")]
    GatesPush,
    #[serde(rename = "admins:manage")]
    AdminsManage,
    #[serde(rename = "sessions:manage")]
    SessionsManage,
    #[serde(rename = "probe")]
    Probe,
    #[serde(rename = "api_tokens:manage")]
    ApiTokensManage,
}

impl Permission {
    pub const ALL: [Permission; 20] = [
        Permission::ConsoleRead,
        Permission::AuditRead,
        Permission::ClientsWrite,
        Permission::ClientsDelete,
        Permission::ClientsSecrets,
        Permission::KeysWrite,
        Permission::KeysRotate,
        Permission::KeysRevoke,
        Permission::CertsIssue,
        Permission::CertsRotate,
        Permission::PinsetsWrite,
        Permission::PinsetsExport,
        Permission::PoliciesWrite,
        Permission::PoliciesEnforce,
        Permission::GatesManage,
        Permission::GatesPush,
        Permission::AdminsManage,
        Permission::SessionsManage,
        Permission::Probe,
        Permission::ApiTokensManage,
    ];

    pub fn as_str(self) -> &'static str {
        use Permission::*;
        match self {
            ConsoleRead => "console:read",
            AuditRead => "audit:read",
            ClientsWrite => "clients:write",
            ClientsDelete => "clients:delete",
            ClientsSecrets => "clients:secrets",
            KeysWrite => "keys:write",
            KeysRotate => "keys:rotate",
            KeysRevoke => "keys:revoke",
            CertsIssue => "certs:issue",
            CertsRotate => "certs:rotate",
            PinsetsWrite => "pinsets:write",
            PinsetsExport => "pinsets:export",
            PoliciesWrite => "policies:write",
            PoliciesEnforce => "policies:enforce",
            GatesManage => "gates:manage",
            GatesPush => "gates:push",
            AdminsManage => "admins:manage",
            SessionsManage => "sessions:manage",
            Probe => "probe",
            ApiTokensManage => "api_tokens:manage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// What it lets an admin do, for the Admins page.
    pub fn describe(self) -> &'static str {
        use Permission::*;
        match self {
            ConsoleRead => {
                "See every page and download public material (CSRs, JWKS, pin-set files, certificate chains)"
            }
            AuditRead => "Read the audit log and verify its chain",
            ClientsWrite => "Create and edit OAuth clients, enable and disable them",
            ClientsDelete => "Delete OAuth clients",
            ClientsSecrets => "Rotate and revoke client secrets (a new secret is shown once)",
            KeysWrite => "Create signing-key sets and change their settings",
            KeysRotate => "Run a signing-key rotation step",
            KeysRevoke => "Revoke a signing key",
            CertsIssue => {
                "Create CAs, issue and import certificates, create CSRs, download a certificate's private key (with a passkey)"
            }
            CertsRotate => "Rotate a certificate",
            PinsetsWrite => "Edit pin sets and mark app releases supported or not",
            PinsetsExport => "Export a pin set for an app release (recorded for the planner)",
            PoliciesWrite => {
                "Create, edit, reorder, enable, disable and delete rate-limit policies"
            }
            PoliciesEnforce => "Switch a rate-limit policy to enforce",
            GatesManage => "Add, revoke and configure gates",
            GatesPush => "Push the current bundle to gates now",
            AdminsManage => "Invite admins, change roles, disable admins",
            SessionsManage => "End any admin's sessions",
            Probe => "Run the live TLS probe against a server",
            ApiTokensManage => {
                "Create tokens for the REST API (each shown once, with scopes and an expiry) and revoke them"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_string(&p).expect("json"),
                format!("\"{}\"", p.as_str())
            );
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    /// The promises the issue and the README make about each role.
    #[test]
    fn the_roles_keep_their_promises() {
        use Permission::*;
        assert_eq!(Role::Owner.permissions().len(), Permission::ALL.len());
        assert_eq!(Role::Auditor.permissions(), vec![ConsoleRead, AuditRead]);
        // An operator rotates and exports, but deletes, revokes and manages nothing.
        for p in [KeysRotate, CertsRotate, PinsetsExport, Probe] {
            assert!(Role::Operator.allows(p), "{p:?}");
        }
        for p in [
            KeysRevoke,
            ClientsDelete,
            ClientsSecrets,
            AdminsManage,
            GatesManage,
            PoliciesEnforce,
        ] {
            assert!(!Role::Operator.allows(p), "{p:?}");
        }
        assert!(!Role::Admin.allows(SessionsManage));
        assert!(Role::Admin.may_manage(Role::Operator));
        assert!(!Role::Admin.may_manage(Role::Owner));
        assert!(Role::Owner.may_manage(Role::Owner));
        assert!(!Role::Operator.may_manage(Role::Auditor));
    }
}
