//! Forwarding the audit log to collectors: adding a destination (audited), where each one
//! stands against the log (how many events behind, since when, its last error), and the cursor
//! port the forwarder in `server` sends with.

use std::sync::Arc;

use serde_json::json;

use crate::audit::Actor;
use crate::audited::{action, Audit, Target};
use crate::ports::forwarding::ForwardStore;
use crate::ports::Store;
use crate::Error;

/// One destination as the Audit page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardStatus {
    pub destination: String,
    /// The last event the receiver took.
    pub sent_seq: i64,
    /// The newest event in the log.
    pub head_seq: i64,
    pub sent_at_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    /// A console holds the lease now (it sends); else nothing is sending to it.
    pub active: bool,
}

impl ForwardStatus {
    /// Events written to the log that the receiver has not taken yet.
    pub fn behind(&self) -> i64 {
        (self.head_seq - self.sent_seq).max(0)
    }
}

pub struct ForwardingService {
    store: Arc<dyn ForwardStore>,
    log: Arc<dyn Store>,
}

impl ForwardingService {
    pub fn new(store: Arc<dyn ForwardStore>, log: Arc<dyn Store>) -> Self {
        ForwardingService { store, log }
    }

    /// The cursor port, for the forwarder.
    pub fn store(&self) -> &Arc<dyn ForwardStore> {
        &self.store
    }

    /// Makes sure `destination` has a cursor; a new one starts at the first event and is
    /// audited (the log says where it is being sent).
    pub async fn add_destination(&self, destination: &str) -> Result<bool, Error> {
        let event = Audit::success(
            &Actor::system(),
            action::AUDIT_FORWARDING_ADDED,
            &Target::forwarding(destination),
            json!({ "destination": destination, "from_seq": 1 }),
        );
        Ok(self
            .store
            .add_forward_destination(destination, event)
            .await?)
    }

    /// Every destination with how far behind the log it is, at `now_ms`.
    pub async fn status(&self, now_ms: i64) -> Result<Vec<ForwardStatus>, Error> {
        let cursors = self.store.forward_cursors().await?;
        if cursors.is_empty() {
            return Ok(Vec::new());
        }
        let head_seq = self.log.recent_audit(1).await?.first().map_or(0, |e| e.seq);
        Ok(cursors
            .into_iter()
            .map(|c| ForwardStatus {
                active: c.holder.is_some() && c.lease_until_ms > now_ms,
                destination: c.destination,
                sent_seq: c.sent_seq,
                head_seq,
                sent_at_ms: c.sent_at_ms,
                last_error: c.last_error,
                last_error_at_ms: c.last_error_at_ms,
            })
            .collect())
    }
}
