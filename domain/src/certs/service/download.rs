//! Downloads for servers that are not behind a gate: a certificate's chain as stored (PEM, leaf
//! first), and, after a passkey confirmation, the private key of a current server certificate
//! (unencrypted PKCS #8 PEM, RFC 5958 / RFC 7468 §10).
//!
//! A browser download is a plain navigation, which cannot carry what a server fn is checked for,
//! so the key leaves in two steps:
//! 1. [`CertsService::key_download_ticket`], called by a server fn that needs a step-up, checks
//!    the certificate and hands out a one-time ticket: 256 random bits, stored only as their
//!    SHA-256 in the ceremonies table (the same hashed, expiring, taken-once state as the
//!    passkey ceremonies), bound to the session, the admin and the certificate, valid
//!    [`KEY_TICKET_TTL_MS`].
//! 2. [`CertsService::download_key`] takes the ticket (a second use finds nothing), checks the
//!    binding again, opens the sealed key and records the success event *before* the key is
//!    returned: no key leaves without its audit row (fail closed).
//!
//! Invariants: the key never appears in an audit row, a log line or an error message; the audit
//! details hold the certificate, its hostname and the key's SPKI pin. CA keys are never handed
//! out, and neither are keys of superseded certificates or of certificates whose key the console
//! does not hold (imported without a key). Every refusal of step 1 or 2 is audited under
//! [`action::CERTS_DOWNLOAD_KEY`]. Chain downloads are reads: not audited, like every other
//! download of public material.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::*;
use crate::auth::CurrentAdmin;
use crate::certs::{cert_info, load_pkcs8, parse_pem, PemLabel};
use crate::ports::Ceremony;
use crate::tokens;
use policy::access::Permission;

/// How long a key-download ticket may be used: long enough for the browser to follow it at
/// once, short enough that a ticket copied from a screen or a history entry is dead.
pub const KEY_TICKET_TTL_MS: i64 = 60 * 1000;

/// The `kind` of a key-download ticket in the ceremonies table.
const KEY_TICKET_KIND: &str = "cert_key_download";

/// Longest certificate id looked up (ids are UUIDs; anything longer is refused unread).
const MAX_ID_LEN: usize = 64;

/// What a ticket is bound to.
#[derive(Serialize, Deserialize)]
struct TicketState {
    session_hash: String,
    admin_id: String,
    cert_id: String,
}

/// A certificate's chain, as stored.
#[derive(Clone, Debug)]
pub struct ChainDownload {
    pub filename: String,
    pub pem: String,
}

/// How a stored chain is made up, for the page to say what a download holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainSummary {
    /// Certificates in the chain, the leaf included.
    pub certs: usize,
    /// The last certificate is self-issued (a root): the chain carries its root.
    pub ends_with_root: bool,
}

/// A one-time ticket for one key download; the ticket goes to the browser and nowhere else.
pub struct KeyTicket {
    pub ticket: SecretString,
    pub expires_at_ms: i64,
}

/// A private key on its way to the admin who asked for it. `Debug` hides the key.
pub struct KeyDownload {
    pub filename: String,
    pub pem: Zeroizing<String>,
    pub spki_pin: String,
}

impl std::fmt::Debug for KeyDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyDownload({}, sha256/{})",
            self.filename, self.spki_pin
        )
    }
}

/// What a certificate's files are called: its hostname (or, without one, its subject's common
/// name), with every character outside `[A-Za-z0-9.-]` replaced (a wildcard's `*` included).
pub fn download_stem(c: &CertRecord) -> String {
    let name = c.hostname.clone().unwrap_or_else(|| {
        c.subject
            .split(',')
            .map(str::trim)
            .find_map(|rdn| rdn.strip_prefix("CN="))
            .unwrap_or(&c.subject)
            .to_owned()
    });
    let stem: String = name
        .chars()
        .take(100)
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '.' || ch == '-' {
                ch
            } else {
                '_'
            }
        })
        .collect();
    if stem.trim_matches(['_', '.']).is_empty() {
        "certificate".to_owned()
    } else {
        stem
    }
}

/// Counts the certificates of a stored chain and tells whether it ends with a root. A chain
/// that does not parse (never stored so) reads as empty.
pub fn chain_summary(chain_pem: &str) -> ChainSummary {
    let Ok(blocks) = parse_pem(chain_pem.as_bytes()) else {
        return ChainSummary::default();
    };
    let certs: Vec<_> = blocks
        .iter()
        .filter(|b| b.label == PemLabel::Certificate)
        .collect();
    let ends_with_root = certs.len() > 1
        && certs
            .last()
            .and_then(|b| cert_info(&b.der).ok())
            .is_some_and(|i| i.self_issued);
    ChainSummary {
        certs: certs.len(),
        ends_with_root,
    }
}

fn no_such_certificate() -> Error {
    Error::NotFound("There is no such certificate.".into())
}

fn ticket_refused() -> Error {
    Error::NotFound(
        "This key download link was already used or has expired (a link works once, for 60 seconds). \
         Ask for the key again from the Certificates page."
            .into(),
    )
}

impl CertsService {
    async fn certificate_by_id(&self, cert_id: &str) -> Result<CertRecord, Error> {
        let id = cert_id.trim();
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(no_such_certificate());
        }
        self.store
            .certificate(id)
            .await?
            .ok_or_else(no_such_certificate)
    }

    /// The chain of certificate `cert_id` as stored: leaf first, then the certificates above it
    /// as they were issued or imported (an internal CA's root included; an imported chain holds
    /// what was pasted). **Audit:** none (a read of public material).
    pub async fn chain_download(&self, cert_id: &str) -> Result<ChainDownload, Error> {
        let c = self.certificate_by_id(cert_id).await?;
        Ok(ChainDownload {
            filename: format!("{}.chain.pem", download_stem(&c)),
            pem: c.chain_pem,
        })
    }

    /// Whether the console would hand out the private key of `c`: a current server or imported
    /// certificate whose key it holds (sealed). `Ok(None)` when it would; else why not.
    pub(super) async fn key_refusal(&self, c: &CertRecord) -> Result<Option<String>, Error> {
        if c.kind.is_ca() {
            return Ok(Some(
                "The console never hands out a CA's private key.".into(),
            ));
        }
        if c.status != CertStatus::Active {
            return Ok(Some(
                "Only the current certificate's key can be downloaded; this one was superseded."
                    .into(),
            ));
        }
        let held = match &c.key_id {
            Some(id) => self
                .store
                .tls_key(id)
                .await?
                .is_some_and(|k| k.sealed_private.is_some()),
            None => false,
        };
        Ok((!held).then(|| {
            "The console does not hold this certificate's private key (it was imported without one)."
                .into()
        }))
    }

    /// The audit details of a key download: the certificate, its hostname and its key's pin.
    fn key_details(c: &CertRecord) -> serde_json::Value {
        json!({
            "certificate": c.id, "serial": c.serial_hex, "hostname": c.hostname,
            "subject": c.subject, "spki_pin": c.spki_pin,
        })
    }

    /// Records a refused key download (outcome `failure`, the reason and what is known of the
    /// certificate in the details) and returns `err`, or the store's error (fail closed).
    async fn key_refused(
        &self,
        actor: &Actor,
        cert_id: &str,
        cert: Option<&CertRecord>,
        outcome: Outcome,
        err: Error,
    ) -> Error {
        let target = Target::certificate(&cert_id.chars().take(MAX_ID_LEN).collect::<String>());
        let mut details = cert.map(Self::key_details).unwrap_or_else(|| json!({}));
        details["reason"] = json!(err.to_string());
        let draft = AuditDraft::new(actor, action::CERTS_DOWNLOAD_KEY, target.as_str(), outcome)
            .with_details(details);
        match self.audit.event(draft).await {
            Ok(()) => err,
            Err(e) => e,
        }
    }

    /// Step 1 of a key download: checks that `current` may have the key of certificate
    /// `cert_id` and returns a one-time ticket for [`Self::download_key`]. The caller has checked
    /// the step-up (the server fn's rule); it is checked again here. **Audit:** a refusal under
    /// `certs.download_key`; a ticket handed out writes nothing (the download writes the row).
    pub async fn key_download_ticket(
        &self,
        actor: &Actor,
        current: &CurrentAdmin,
        cert_id: &str,
    ) -> Result<KeyTicket, Error> {
        let cert = match self.certificate_by_id(cert_id).await {
            Ok(c) => c,
            Err(e) => {
                return Err(self
                    .key_refused(actor, cert_id, None, Outcome::Failure, e)
                    .await)
            }
        };
        if let Err(e) = Self::may_download(current) {
            return Err(self
                .key_refused(actor, cert_id, Some(&cert), Outcome::Denied, e)
                .await);
        }
        if let Some(why) = self.key_refusal(&cert).await? {
            let e = Error::Conflict(why);
            return Err(self
                .key_refused(actor, cert_id, Some(&cert), Outcome::Failure, e)
                .await);
        }
        let ticket = tokens::random_token();
        let state = TicketState {
            session_hash: current.session_hash.clone(),
            admin_id: current.admin.id.to_string(),
            cert_id: cert.id.clone(),
        };
        let expires_at_ms = now_ms() + KEY_TICKET_TTL_MS;
        self.tickets
            .put_ceremony(&Ceremony {
                id_hash: tokens::secret_hash(&ticket),
                kind: KEY_TICKET_KIND.to_owned(),
                state_json: serde_json::to_string(&state)
                    .map_err(|e| Error::Internal(e.to_string()))?,
                expires_at_ms,
            })
            .await?;
        Ok(KeyTicket {
            ticket,
            expires_at_ms,
        })
    }

    /// The role and step-up a key download needs (the access tables say the same; checked here
    /// too, so the rule holds whoever calls the service).
    fn may_download(current: &CurrentAdmin) -> Result<(), Error> {
        if !current.admin.role.allows(Permission::CertsIssue) {
            return Err(Error::Forbidden);
        }
        if !current.stepped_up(now_ms()) {
            return Err(Error::Conflict(
                "Confirm with your passkey first: a key download needs a passkey confirmation from the last 5 minutes."
                    .into(),
            ));
        }
        Ok(())
    }

    /// Opens the sealed key of `cert` and checks that it is the certificate's key: a mix-up in
    /// storage must never hand out another key.
    async fn open_held_key(&self, cert: &CertRecord) -> Result<crate::certs::PrivateKey, Error> {
        let key_id = cert
            .key_id
            .clone()
            .ok_or_else(|| Error::Internal("held key without id".into()))?;
        let key = load_pkcs8(self.open_key(&key_id).await?.expose_secret())?;
        if key.pin().to_base64() != cert.spki_pin {
            return Err(Error::Internal(format!(
                "the key sealed for certificate {} does not match its certificate",
                cert.id
            )));
        }
        Ok(key)
    }

    /// Step 2: takes `ticket` (once) and returns the private key of certificate `cert_id` as
    /// PKCS #8 PEM, if the ticket was handed to this session and admin for this certificate in
    /// the last minute. **Audit:** `certs.download_key`, success (written before the key is
    /// returned) or failure.
    pub async fn download_key(
        &self,
        actor: &Actor,
        current: &CurrentAdmin,
        cert_id: &str,
        ticket: &str,
    ) -> Result<KeyDownload, Error> {
        if ticket.trim().is_empty() {
            let e = Error::invalid(
                "A private key is downloaded through a one-time link: use \"Download private key…\" on the Certificates page.",
            );
            let cert = self.certificate_by_id(cert_id).await.ok();
            return Err(self
                .key_refused(actor, cert_id, cert.as_ref(), Outcome::Failure, e)
                .await);
        }
        // Taken first, whatever follows: a ticket is good for one attempt.
        let taken = if tokens::looks_like_token(ticket) {
            self.tickets
                .take_ceremony(&tokens::token_hash(ticket))
                .await?
        } else {
            None
        };
        let state = taken
            .filter(|c| c.kind == KEY_TICKET_KIND && c.expires_at_ms > now_ms())
            .and_then(|c| serde_json::from_str::<TicketState>(&c.state_json).ok())
            .filter(|s| {
                s.session_hash == current.session_hash
                    && s.admin_id == current.admin.id.to_string()
                    && s.cert_id == cert_id.trim()
            });
        let cert = self.certificate_by_id(cert_id).await.ok();
        if state.is_none() {
            return Err(self
                .key_refused(
                    actor,
                    cert_id,
                    cert.as_ref(),
                    Outcome::Failure,
                    ticket_refused(),
                )
                .await);
        }
        let Some(cert) = cert else {
            return Err(self
                .key_refused(
                    actor,
                    cert_id,
                    None,
                    Outcome::Failure,
                    no_such_certificate(),
                )
                .await);
        };
        if let Err(e) = Self::may_download(current) {
            return Err(self
                .key_refused(actor, cert_id, Some(&cert), Outcome::Denied, e)
                .await);
        }
        if let Some(why) = self.key_refusal(&cert).await? {
            return Err(self
                .key_refused(
                    actor,
                    cert_id,
                    Some(&cert),
                    Outcome::Failure,
                    Error::Conflict(why),
                )
                .await);
        }
        let key = match self.open_held_key(&cert).await {
            Ok(k) => k,
            Err(e) => {
                return Err(self
                    .key_refused(actor, cert_id, Some(&cert), Outcome::Failure, e)
                    .await)
            }
        };
        let event = Audit::success(
            actor,
            action::CERTS_DOWNLOAD_KEY,
            &Target::certificate(&cert.id),
            Self::key_details(&cert),
        );
        self.audit.event(event).await?;
        Ok(KeyDownload {
            filename: format!("{}.key.pem", download_stem(&cert)),
            pem: key.to_pkcs8_pem(),
            spki_pin: cert.spki_pin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hostname: Option<&str>, subject: &str) -> CertRecord {
        CertRecord {
            id: "c1".into(),
            kind: CertKind::Server,
            hostname: hostname.map(str::to_owned),
            subject: subject.into(),
            issuer: String::new(),
            sans: vec![],
            serial_hex: "01".into(),
            key_type: "ECDSA P-256".into(),
            not_before: String::new(),
            not_after: String::new(),
            spki_pin: String::new(),
            cert_sha256: String::new(),
            cert_pem: String::new(),
            chain_pem: String::new(),
            key_id: None,
            issuer_id: None,
            status: CertStatus::Active,
            created_at_ms: 0,
        }
    }

    #[test]
    fn file_names_come_from_the_hostname_or_the_common_name_and_stay_plain() {
        assert_eq!(
            download_stem(&record(Some("api.example.com"), "CN=x")),
            "api.example.com"
        );
        assert_eq!(
            download_stem(&record(None, "CN=Palisade Root, O=Example")),
            "Palisade_Root"
        );
        assert_eq!(
            download_stem(&record(Some("*.example.com"), "")),
            "_.example.com"
        );
        assert_eq!(
            download_stem(&record(None, "O=\"evil\r\n/../x")),
            "O__evil___.._x"
        );
        assert_eq!(download_stem(&record(None, "")), "certificate");
    }

    #[test]
    fn a_chain_summary_counts_and_finds_the_root() {
        let root = create_root_ca(&CaParams::root("Root")).expect("root");
        let leaf = issue_server_cert(
            &root.ca_material(),
            &ServerCertParams::new(vec![crate::certs::San::Dns("api.example.com".into())]),
        )
        .expect("leaf");
        let with_root = format!("{}{}", leaf.cert_pem, root.cert_pem);
        assert_eq!(
            chain_summary(&with_root),
            ChainSummary {
                certs: 2,
                ends_with_root: true
            }
        );
        assert_eq!(
            chain_summary(&leaf.cert_pem),
            ChainSummary {
                certs: 1,
                ends_with_root: false
            }
        );
        assert_eq!(chain_summary("junk"), ChainSummary::default());
    }
}
