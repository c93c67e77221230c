//! The console's services bundled for the server and the app's server fns: built once at
//! startup and shared behind an `Arc`.

use std::sync::Arc;

use crate::admins::service::AdminsService;
use crate::api_tokens::ApiTokensService;
use crate::audit::{Actor, AuditDraft, AuditEvent, ChainError, ChainKey, Checkpoint, Outcome};
use crate::audited::Audit;
use crate::auth::AuthService;
use crate::certs::probe::ProbeNetwork;
use crate::certs::service::CertsService;
use crate::clients::service::ClientsService;
use crate::forwarding::ForwardingService;
use crate::gates::service::GatesService;
use crate::keys::service::KeysService;
use crate::pinsets::service::PinsetsService;
use crate::policies::PoliciesService;
use crate::ports::admins::AdminStore;
use crate::ports::api_tokens::ApiTokenStore;
use crate::ports::certs::CertStore;
use crate::ports::clients::ClientStore;
use crate::ports::forwarding::ForwardStore;
use crate::ports::gates::GateStore;
use crate::ports::keys::KeyStore;
use crate::ports::pinsets::PinsetStore;
use crate::ports::policies::PolicyStore;
use crate::ports::sealed::{SealedStore, SealedValue};

/// Where the master key's check value lives, and its id (its AAD).
pub const MASTER_KEY_CHECK_TABLE: &str = "master_key_checks";
pub const MASTER_KEY_CHECK_ID: &str = "master_key_check";
/// The check value's plaintext.
const MASTER_KEY_CHECK: &[u8] = b"palisade master key check, format 1";
use crate::ports::Store;
use crate::refusals::Refusals;
use crate::seal::{MasterKey, Sealed};
use crate::sessions::SessionPolicy;
use crate::Error;

pub struct Console {
    pub store: Arc<dyn Store>,
    pub auth: AuthService,
    pub admins: AdminsService,
    pub certs: CertsService,
    pub pinsets: Arc<PinsetsService>,
    pub policies: PoliciesService,
    pub clients: ClientsService,
    pub keys: KeysService,
    pub gates: Arc<GatesService>,
    pub api_tokens: ApiTokensService,
    pub forwarding: ForwardingService,
    /// The audit budget of anonymous refusals (shared with `auth`).
    pub refusals: Arc<Refusals>,
    sealed: Arc<dyn SealedStore>,
    master_key: Arc<MasterKey>,
}

/// Every storage port: what one database (SQLite or PostgreSQL) provides.
pub trait Stores:
    Store
    + AdminStore
    + ApiTokenStore
    + ForwardStore
    + CertStore
    + PinsetStore
    + PolicyStore
    + ClientStore
    + KeyStore
    + SealedStore
    + GateStore
{
}
impl<
        T: Store
            + AdminStore
            + ApiTokenStore
            + ForwardStore
            + CertStore
            + PinsetStore
            + PolicyStore
            + ClientStore
            + KeyStore
            + SealedStore
            + GateStore,
    > Stores for T
{
}

/// One dated item of the expiry inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiryItem {
    /// `certificate` or `pin set`.
    pub kind: &'static str,
    pub name: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub days_left: i64,
}

/// Warning tier of an expiry: 7, 14 or 30 days, `expired`, or none.
pub fn expiry_level(days_left: i64) -> &'static str {
    match days_left {
        d if d < 0 => "expired",
        0..=7 => "7",
        8..=14 => "14",
        15..=30 => "30",
        _ => "ok",
    }
}

/// Walks the whole chain of `store` from the first event (the console's check, and `palisade
/// audit verify` on a database opened read-only), against `checkpoint` if one is given.
pub async fn chain_status(
    store: &dyn Store,
    checkpoint: Option<&Checkpoint>,
) -> Result<ChainStatus, Error> {
    Ok(match store.verify_audit(checkpoint).await? {
        Ok(events) => ChainStatus::Intact { events },
        Err(e) => ChainStatus::Broken(e),
    })
}

/// The kind of a stored sealed value, from its table.
fn sealed_kind(v: &SealedValue) -> Result<Sealed, Error> {
    Sealed::of_table(&v.table)
        .ok_or_else(|| Error::Internal(format!("sealed values in an unknown table {}", v.table)))
}

/// Where the sealed audit chain key lives, and its id (its sealing AAD).
pub const CHAIN_KEY_TABLE: &str = "audit_chain_keys";
pub const CHAIN_KEY_ID: &str = "audit_chain_key";

/// Loads the chain key of `store`'s keyed chain, opened with `master_key`, into `store`;
/// `false` when the chain is not keyed yet.
pub async fn load_chain_key(store: &dyn Store, master_key: &MasterKey) -> Result<bool, Error> {
    let Some(sealed) = store.sealed_chain_key().await? else {
        return Ok(false);
    };
    let plain = zeroize::Zeroizing::new(
        master_key
            .open(Sealed::AuditChainKey, CHAIN_KEY_ID, &sealed)
            .map_err(|e| {
                Error::invalid(format!(
                    "the audit chain key does not open with this master key ({e})"
                ))
            })?,
    );
    let bytes: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| Error::invalid("the audit chain key is malformed"))?;
    store.use_chain_key(ChainKey::from_bytes(&bytes));
    Ok(true)
}

/// What the audit page shows of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainStatus {
    Intact { events: i64 },
    Broken(ChainError),
}

impl Console {
    pub fn new<S: Stores>(
        stores: Arc<S>,
        probe: Arc<dyn ProbeNetwork>,
        master_key: Arc<MasterKey>,
        public_url: &url::Url,
        sessions: SessionPolicy,
    ) -> Result<Self, Error> {
        let store: Arc<dyn Store> = stores.clone();
        let refusals = Arc::new(Refusals::new(store.clone()));
        let auth = AuthService::new(
            store.clone(),
            stores.clone(),
            refusals.clone(),
            &master_key.derive(crate::auth::DECOY_KEY_PURPOSE),
            public_url,
            sessions,
        )?;
        let audit = Audit::new(store.clone());
        let admins = AdminsService::new(
            stores.clone(),
            store.clone(),
            audit.clone(),
            sessions,
            public_url,
        );
        let pinsets = Arc::new(PinsetsService::new(
            stores.clone(),
            stores.clone(),
            audit.clone(),
        ));
        let certs = CertsService::new(
            stores.clone(),
            pinsets.clone(),
            master_key.clone(),
            audit.clone(),
            probe,
            store.clone(),
        );
        let policies = PoliciesService::new(stores.clone(), audit.clone());
        let clients = ClientsService::new(stores.clone(), stores.clone(), audit.clone());
        let gates = Arc::new(GatesService::new(
            stores.clone(),
            stores.clone(),
            stores.clone(),
            stores.clone(),
            stores.clone(),
            master_key.clone(),
            audit.clone(),
            public_url,
        ));
        let keys = KeysService::new(stores.clone(), master_key.clone(), audit.clone())
            .with_serving(gates.clone());
        let api_tokens = ApiTokensService::new(stores.clone(), audit.clone(), refusals.clone());
        let forwarding = ForwardingService::new(stores.clone(), store.clone());
        Ok(Console {
            store,
            auth,
            admins,
            certs,
            pinsets,
            policies,
            clients,
            keys,
            gates,
            api_tokens,
            forwarding,
            refusals,
            sealed: stores,
            master_key,
        })
    }

    /// The newest `limit` audit events (at most 500), newest first.
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEvent>, Error> {
        Ok(self.store.recent_audit(limit.clamp(1, 500)).await?)
    }

    /// Active certificates and pin sets by expiry, soonest first.
    pub async fn expiry_inventory(
        &self,
        today: chrono::NaiveDate,
    ) -> Result<Vec<ExpiryItem>, Error> {
        let mut items = Vec::new();
        for c in self
            .certs
            .overview()
            .await?
            .certificates
            .into_iter()
            .filter(|c| c.status == policy::certs::CertStatus::Active)
        {
            let Some(date) = c
                .not_after
                .get(..10)
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            else {
                continue;
            };
            let name = match &c.hostname {
                Some(h) => format!("{h} ({})", c.serial_hex.chars().take(8).collect::<String>()),
                None => c.subject.clone(),
            };
            items.push(ExpiryItem {
                kind: "certificate",
                name,
                date: date.to_string(),
                days_left: (date - today).num_days(),
            });
        }
        for s in self.pinsets.list().await? {
            let date = s.set.expires_on;
            items.push(ExpiryItem {
                kind: "pin set",
                name: format!("{} v{}", s.set.hostname, s.set.version),
                date: date.to_string(),
                days_left: (date - today).num_days(),
            });
        }
        items.sort_by(|a, b| {
            a.days_left
                .cmp(&b.days_left)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(items)
    }

    /// Re-seals every sealed value under `new_key` in one transaction (master-key rotation).
    /// Every value is opened with the current key first; if any does not open, nothing changes
    /// and the error names it. Returns how many private keys were re-sealed (the master key's
    /// check value and the audit chain key are re-sealed with them). The console must not
    /// be serving meanwhile: a running console still holds the old key.
    pub async fn rewrap_master_key(
        &self,
        new_key: &MasterKey,
        actor: &Actor,
    ) -> Result<usize, Error> {
        let values = self.sealed.sealed_values().await?;
        let mut pairs: Vec<(SealedValue, Vec<u8>)> = Vec::with_capacity(values.len());
        for v in values {
            let what = sealed_kind(&v)?;
            let plain = zeroize::Zeroizing::new(
                self.master_key.open(what, &v.id, &v.sealed).map_err(|e| {
                    Error::invalid(format!(
                    "{} {} does not open with the current master key ({e}); nothing was changed",
                    v.table, v.id
                ))
                })?,
            );
            let resealed = new_key.seal(what, &v.id, &plain);
            pairs.push((v, resealed));
        }
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for (v, _) in &pairs {
            *counts.entry(v.table.clone()).or_default() += 1;
        }
        let event = AuditDraft::new(
            actor,
            "keys.rewrap_master_key",
            "master_key",
            Outcome::Success,
        )
        .with_details(serde_json::json!({ "resealed": counts }));
        self.sealed.replace_sealed(&pairs, event).await?;
        // The private keys re-sealed (the check value and the audit chain key go along).
        Ok(pairs
            .iter()
            .filter(|(v, _)| v.table != MASTER_KEY_CHECK_TABLE && v.table != CHAIN_KEY_TABLE)
            .count())
    }

    /// Checks that the master key is the one this database is sealed with, before anything is
    /// sealed or opened: the stored check value must open with it (as must, for a database from
    /// before check values, its first sealed value); a database without a check value gets one,
    /// sealed under this key (audited as `keys.master_key_check`). An `Invalid` that says what
    /// to do otherwise: a console must never seal new values under another key than the old
    /// ones, which would leave half the keys unreadable.
    pub async fn check_master_key(&self) -> Result<(), Error> {
        let values = self.sealed.sealed_values().await?;
        let wrong = |what: &str| {
            Error::invalid(format!(
                "the master key does not open {what}: it is not the key this database was sealed \
                 with. Start with the right key file (--master-key-file or PALISADE_MASTER_KEY_FILE; \
                 restore it from your backup). Nothing was changed."
            ))
        };
        if let Some(check) = values.iter().find(|v| v.table == MASTER_KEY_CHECK_TABLE) {
            return match self
                .master_key
                .open_any(Sealed::MasterKeyCheck, &check.id, &check.sealed)
            {
                Ok(p) if p == MASTER_KEY_CHECK => Ok(()),
                _ => Err(wrong("the database's check value")),
            };
        }
        if let Some(v) = values.first() {
            self.master_key
                .open_any(sealed_kind(v)?, &v.id, &v.sealed)
                .map_err(|_| wrong(&format!("{} {}", v.table, v.id)))?;
        }
        let sealed = self.master_key.seal(
            Sealed::MasterKeyCheck,
            MASTER_KEY_CHECK_ID,
            MASTER_KEY_CHECK,
        );
        let event = AuditDraft::new(
            &Actor::system(),
            "keys.master_key_check",
            "master_key",
            Outcome::Success,
        )
        .with_details(serde_json::json!({ "sealed_values": values.len() }));
        match self
            .sealed
            .put_master_key_check(MASTER_KEY_CHECK_ID, &sealed, crate::now_ms(), event)
            .await
        {
            Ok(()) => Ok(()),
            // Another replica stored one meanwhile: this key must open it too.
            Err(crate::ports::StoreError::Duplicate { .. }) => {
                Box::pin(self.check_master_key()).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Walks the whole chain from the first event.
    pub async fn verify_audit(&self) -> Result<ChainStatus, Error> {
        chain_status(&*self.store, None).await
    }

    /// Re-seals every value of the old format (AAD: the id alone) in the current one (AAD:
    /// purpose, table and id), under the same master key, in one audited transaction: a
    /// one-time upgrade at startup, after [`Console::check_master_key`]. Returns how many.
    pub async fn upgrade_seals(&self) -> Result<usize, Error> {
        let mut pairs = Vec::new();
        for v in self.sealed.sealed_values().await? {
            if !MasterKey::is_legacy(&v.sealed) {
                continue;
            }
            let what = sealed_kind(&v)?;
            let plain =
                zeroize::Zeroizing::new(self.master_key.open_any(what, &v.id, &v.sealed).map_err(
                    |e| Error::invalid(format!("{} {}: {e}; nothing was changed", v.table, v.id)),
                )?);
            let resealed = self.master_key.seal(what, &v.id, &plain);
            pairs.push((v, resealed));
        }
        if pairs.is_empty() {
            return Ok(0);
        }
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for (v, _) in &pairs {
            *counts.entry(v.table.clone()).or_default() += 1;
        }
        let event = AuditDraft::new(
            &Actor::system(),
            "keys.reseal_format",
            "master_key",
            Outcome::Success,
        )
        .with_details(serde_json::json!({
            "resealed": counts,
            "format": "AES-256-GCM, AAD naming purpose, table and id",
        }));
        self.sealed.replace_sealed(&pairs, event).await?;
        Ok(pairs.len())
    }

    /// Loads the audit chain's key if the chain is keyed (before anything writes to it);
    /// `false` when it is not keyed yet.
    pub async fn load_audit_chain_key(&self) -> Result<bool, Error> {
        load_chain_key(&*self.store, &self.master_key).await
    }

    /// Loads the audit chain's key, or keys the chain now (a database from before keyed
    /// chains, or a new one): a random key, sealed under the master key, stored with the event
    /// that keys the chain, in one transaction. Call after [`Console::check_master_key`] and
    /// before anything else writes.
    pub async fn key_audit_chain(&self) -> Result<(), Error> {
        if load_chain_key(&*self.store, &self.master_key).await? {
            return Ok(());
        }
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes[..]);
        let sealed = self
            .master_key
            .seal(Sealed::AuditChainKey, CHAIN_KEY_ID, &bytes[..]);
        let event = AuditDraft::new(
            &Actor::system(),
            crate::audit::CHAIN_KEYED_ACTION,
            "audit_chain",
            Outcome::Success,
        )
        .with_details(serde_json::json!({
            "format": "HMAC-SHA256 under a key sealed with the master key",
            "note": "events before this one keep their SHA-256 hashes; this event's MAC covers them",
        }));
        match self
            .store
            .key_audit_chain(&sealed, ChainKey::from_bytes(&bytes), event)
            .await
        {
            Ok(_) => Ok(()),
            // Another replica keyed it meanwhile: use its key.
            Err(crate::ports::StoreError::Duplicate { .. }) => {
                load_chain_key(&*self.store, &self.master_key)
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::expiry_level;

    #[test]
    fn warning_tiers_at_30_14_and_7_days() {
        assert_eq!(expiry_level(-1), "expired");
        assert_eq!(expiry_level(0), "7");
        assert_eq!(expiry_level(7), "7");
        assert_eq!(expiry_level(8), "14");
        assert_eq!(expiry_level(14), "14");
        assert_eq!(expiry_level(15), "30");
        assert_eq!(expiry_level(30), "30");
        assert_eq!(expiry_level(31), "ok");
    }
}
