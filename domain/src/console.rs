//! The console's services bundled for the server and the app's server fns: built once at
//! startup and shared behind an `Arc`.

use std::sync::Arc;

use crate::audit::{AuditEvent, ChainError};
use crate::auth::AuthService;
use crate::certs::service::CertsService;
use crate::pinsets::service::PinsetsService;
use crate::ports::certs::CertStore;
use crate::ports::Store;
use crate::seal::MasterKey;
use crate::sessions::SessionPolicy;
use crate::Error;

pub struct Console {
    pub store: Arc<dyn Store>,
    pub auth: AuthService,
    pub certs: CertsService,
    pub pinsets: Arc<PinsetsService>,
}

/// What the audit page shows of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainStatus {
    Intact { events: i64 },
    Broken(ChainError),
}

impl Console {
    pub fn new(
        store: Arc<dyn Store>,
        cert_store: Arc<dyn CertStore>,
        master_key: Arc<MasterKey>,
        public_url: &url::Url,
        sessions: SessionPolicy,
    ) -> Result<Self, Error> {
        let auth = AuthService::new(store.clone(), public_url, sessions)?;
        let pinsets = Arc::new(PinsetsService::new(cert_store.clone()));
        let certs = CertsService::new(cert_store, pinsets.clone(), master_key);
        Ok(Console {
            store,
            auth,
            certs,
            pinsets,
        })
    }

    /// The newest `limit` audit events (at most 500), newest first.
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEvent>, Error> {
        Ok(self.store.recent_audit(limit.clamp(1, 500)).await?)
    }

    /// Walks the whole chain from the first event.
    pub async fn verify_audit(&self) -> Result<ChainStatus, Error> {
        Ok(match self.store.verify_audit().await? {
            Ok(events) => ChainStatus::Intact { events },
            Err(e) => ChainStatus::Broken(e),
        })
    }
}
