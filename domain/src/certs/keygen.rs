//! Key generation as the services do it: RSA-2048 costs up to seconds of CPU, so it always runs
//! on the blocking pool, never on an async worker, and at most [`RSA_SLOTS`] run at once in the
//! whole console (certificates and signing keys share the limit); the rest are refused with
//! 429 and a retry hint (QUALITY.md "expensive work"). ECDSA and Ed25519 take microseconds and
//! run inline.

use tokio::sync::Semaphore;

use super::{generate_key, GeneratedKey, KeyType};
use crate::Error;

/// How many RSA generations may run at once, across every service.
pub const RSA_SLOTS: usize = 2;

static RSA_LIMIT: Semaphore = Semaphore::const_new(RSA_SLOTS);

/// Generates a key pair of `key_type` (see [`generate_key`]) without blocking the runtime.
pub async fn generate(key_type: KeyType) -> Result<GeneratedKey, Error> {
    Ok(with_key_generation(key_type, move || generate_key(key_type)).await??)
}

/// Runs `work`, which generates a key of `key_type` (a key pair, or a CA that makes its own):
/// for RSA on the blocking pool under the console-wide limit, otherwise inline.
pub async fn with_key_generation<T: Send + 'static>(
    key_type: KeyType,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    if key_type != KeyType::Rsa2048 {
        return Ok(work());
    }
    let _permit = RSA_LIMIT
        .try_acquire()
        .map_err(|_| Error::Throttled { retry_after_s: 2 })?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("key generation task: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rsa_beyond_the_limit_is_refused_then_served_once_a_slot_frees() {
        // Every slot taken (as by RSA_SLOTS generations in flight): the next one is refused at
        // once with a retry hint, not queued behind them.
        let held = RSA_LIMIT
            .try_acquire_many(RSA_SLOTS as u32)
            .expect("no other RSA generation runs in this test binary");
        assert!(matches!(
            generate(KeyType::Rsa2048).await,
            Err(Error::Throttled { retry_after_s: 2 })
        ));
        // Fast key types are not limited.
        assert!(generate(KeyType::EcdsaP256).await.is_ok());
        drop(held);
        let key = generate(KeyType::Rsa2048).await.expect("a free slot");
        assert!(!key.spki_der.is_empty());
    }
}
