//! Registering passkeys: the options every registration uses (user verification required,
//! discoverable credential preferred, the admin's existing credentials excluded), finishing a
//! registration with the authenticator model's AAGUID read from the verified authenticator
//! data, the names of well-known models, and adding another passkey to a signed-in admin.

use serde_json::{json, Value};
use uuid::Uuid;
use webauthn_rs::prelude::{
    CredentialID, Passkey, PasskeyRegistration, RegisterPublicKeyCredential,
};

use super::{stored_passkey, AuthService, CeremonyState, CurrentAdmin, Started};
use crate::admins::StoredPasskey;
use crate::audit::{Actor, AuditDraft, Outcome};
use crate::audited::action;
use crate::ports::admins::AdminChange;
use crate::ports::StoreError;
use crate::{now_ms, Error};

/// Names of authenticator models by AAGUID, for labelling passkeys on the Admins page (the
/// AAGUID is a hint for people, never a security decision; synced passkeys often send zeros).
const KNOWN_AAGUIDS: &[(&str, &str)] = &[
    (
        "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
        "Google Password Manager",
    ),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series"),
    ("ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series"),
];

/// The model name for an AAGUID, if it is a well-known one.
pub fn authenticator_name(aaguid: &str) -> Option<&'static str> {
    KNOWN_AAGUIDS
        .iter()
        .find(|(id, _)| *id == aaguid)
        .map(|(_, name)| *name)
}

/// The AAGUID in a registration's authenticator data (WebAuthn L3 §6.5.1: bytes 37..53 when the
/// attested-credential-data flag is set), as a hyphenated lower-case UUID; `None` when absent
/// or all zeros. Only called on a credential webauthn-rs has already verified.
pub fn aaguid_of(credential: &RegisterPublicKeyCredential) -> Option<String> {
    aaguid_in(credential.response.attestation_object.as_ref())
}

/// [`aaguid_of`] on the CBOR attestation object itself.
fn aaguid_in(attestation_object: &[u8]) -> Option<String> {
    let value: ciborium::Value = ciborium::from_reader(attestation_object).ok()?;
    let auth_data = value.as_map()?.iter().find_map(|(k, v)| {
        (k.as_text() == Some("authData"))
            .then(|| v.as_bytes())
            .flatten()
    })?;
    const ATTESTED_CREDENTIAL_DATA: u8 = 0x40;
    if auth_data.len() < 53 || auth_data[32] & ATTESTED_CREDENTIAL_DATA == 0 {
        return None;
    }
    let id = Uuid::from_slice(&auth_data[37..53]).ok()?;
    (!id.is_nil()).then(|| id.hyphenated().to_string())
}

impl AuthService {
    /// Starts a registration for `admin_id`, excluding credentials they already have.
    pub(super) fn registration(
        &self,
        admin_id: Uuid,
        username: &str,
        display_name: &str,
        exclude: Option<Vec<CredentialID>>,
    ) -> Result<(Value, PasskeyRegistration), Error> {
        let (ccr, reg) = self
            .webauthn
            .start_passkey_registration(admin_id, username, display_name, exclude)
            .map_err(|e| Error::Internal(format!("start registration: {e}")))?;
        let mut options = serde_json::to_value(&ccr).map_err(|e| Error::Internal(e.to_string()))?;
        if let Some(sel) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            sel.insert("residentKey".into(), json!("preferred"));
            sel.insert("requireResidentKey".into(), json!(false));
            sel.insert("userVerification".into(), json!("required"));
        }
        Ok((options, reg))
    }

    /// Verifies a registration response against its ceremony; the passkey to store (with its
    /// AAGUID, and `name` when given), or the reason it was refused (for the audit log).
    pub(super) fn finish_registration(
        &self,
        admin_id: Uuid,
        credential: &str,
        reg: &PasskeyRegistration,
        name: &str,
    ) -> Result<Result<StoredPasskey, String>, Error> {
        let parsed = match serde_json::from_str::<RegisterPublicKeyCredential>(credential) {
            Ok(c) => c,
            Err(e) => return Ok(Err(format!("malformed credential: {e}"))),
        };
        let passkey: Passkey = match self.webauthn.finish_passkey_registration(&parsed, reg) {
            Ok(p) => p,
            Err(e) => return Ok(Err(format!("registration refused: {e}"))),
        };
        let mut stored = stored_passkey(admin_id, &passkey, now_ms())?;
        stored.aaguid = aaguid_of(&parsed);
        stored.name = name.to_owned();
        Ok(Ok(stored))
    }

    /// Step 1 of adding a passkey: a registration for the signed-in admin, bound to this
    /// session, that their existing passkeys cannot answer.
    pub async fn begin_add_passkey(&self, current: &CurrentAdmin) -> Result<Started, Error> {
        let existing: Vec<CredentialID> = self
            .store
            .passkeys_of(current.admin.id)
            .await?
            .iter()
            .filter_map(|p| serde_json::from_str::<Passkey>(&p.passkey_json).ok())
            .map(|p| p.cred_id().clone())
            .collect();
        let (options, reg) = self.registration(
            current.admin.id,
            &current.admin.username,
            &current.admin.display_name,
            Some(existing),
        )?;
        let ceremony_id = self
            .put_ceremony(
                "add_passkey",
                &CeremonyState::AddPasskey {
                    admin_id: current.admin.id,
                    session_hash: current.session_hash.clone(),
                    reg,
                },
            )
            .await?;
        Ok(Started {
            ceremony_id,
            options,
        })
    }

    /// Step 2 of adding a passkey: verifies it and stores it under `name` (already checked).
    pub async fn finish_add_passkey(
        &self,
        current: &CurrentAdmin,
        ceremony_id: &str,
        credential: &str,
        name: &str,
        actor: &Actor,
    ) -> Result<StoredPasskey, Error> {
        let target = format!("admin:{}", current.admin.id);
        let fail = |reason: String| {
            AuditDraft::new(actor, action::ADMINS_ADD_PASSKEY, &target, Outcome::Failure)
                .with_details(json!({ "reason": reason }))
        };
        let reg = match self.take_ceremony(ceremony_id).await? {
            Some(CeremonyState::AddPasskey {
                admin_id,
                session_hash,
                reg,
            }) if admin_id == current.admin.id && session_hash == current.session_hash => reg,
            _ => {
                let reason = "passkey ceremony unknown, expired, used or of another session";
                return Err(self
                    .refuse(fail(reason.into()), Error::AuthFailed { reason })
                    .await);
            }
        };
        let stored = match self.finish_registration(current.admin.id, credential, &reg, name)? {
            Ok(s) => s,
            Err(reason) => {
                return Err(self
                    .refuse(
                        fail(reason),
                        Error::AuthFailed {
                            reason: "registration refused",
                        },
                    )
                    .await)
            }
        };
        let event = AuditDraft::new(actor, action::ADMINS_ADD_PASSKEY, &target, Outcome::Success)
            .with_details(json!({
                "username": current.admin.username,
                "credential_id": stored.credential_id,
                "name": stored.name,
                "aaguid": stored.aaguid,
            }));
        match self
            .admins
            .apply_admin_change(&AdminChange::AddPasskey(stored.clone()), event)
            .await
        {
            Ok(_) => Ok(stored),
            Err(StoreError::Duplicate { .. }) => Err(self
                .refuse(
                    fail("credential already registered".into()),
                    Error::Conflict("This passkey is registered already.".into()),
                )
                .await),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attestation object as authenticators send it: `fmt`, `attStmt`, `authData` with the
    /// RP id hash, flags, counter and the attested credential data starting with the AAGUID.
    fn attestation(flags: u8, aaguid: [u8; 16]) -> Vec<u8> {
        let mut auth_data = vec![7u8; 32];
        auth_data.push(flags);
        auth_data.extend_from_slice(&[0, 0, 0, 1]);
        auth_data.extend_from_slice(&aaguid);
        auth_data.extend_from_slice(&[0, 2, 0xab, 0xcd]);
        let map = ciborium::Value::Map(vec![
            ("fmt".into(), "none".into()),
            ("attStmt".into(), ciborium::Value::Map(vec![])),
            ("authData".into(), ciborium::Value::Bytes(auth_data)),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&map, &mut out).expect("cbor");
        out
    }

    #[test]
    fn reads_the_aaguid_of_attested_credential_data() {
        let id = Uuid::parse_str("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").expect("uuid");
        assert_eq!(
            aaguid_in(&attestation(0x45, *id.as_bytes())).as_deref(),
            Some("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")
        );
        assert_eq!(
            aaguid_in(&attestation(0x45, [0; 16])),
            None,
            "zeros: no model"
        );
        assert_eq!(
            aaguid_in(&attestation(0x05, *id.as_bytes())),
            None,
            "AT flag unset"
        );
        assert_eq!(aaguid_in(b"not cbor"), None);
    }

    #[test]
    fn well_known_models_have_names() {
        assert_eq!(
            authenticator_name("fbfc3007-154e-4ecc-8c0b-6e020557d7bd"),
            Some("iCloud Keychain")
        );
        assert_eq!(
            authenticator_name("00000000-0000-0000-0000-000000000000"),
            None
        );
    }
}
