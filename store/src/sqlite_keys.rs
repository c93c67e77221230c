//! The SQLite implementation of [`domain::ports::keys::KeyStore`].

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::ports::keys::{KeyChange, KeySetRecord, KeyStore, SigningKeyRecord};
use domain::ports::StoreError;

use crate::rows::{key_of, set_of};
use crate::sqlite::{append, map_err, SqliteStore};

#[async_trait]
impl KeyStore for SqliteStore {
    async fn apply_key_changes(
        &self,
        changes: &[KeyChange],
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await.map_err(map_err)?;
        for change in changes {
            let affected = match change {
                KeyChange::InsertSet(s) => sqlx::query(
                    "INSERT INTO key_sets (id, name, alg, rotation_period_s, cache_window_s, max_token_lifetime_s, \
                     leeway_s, auto_rotate, version, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&s.id)
                .bind(&s.name)
                .bind(&s.alg)
                .bind(s.rotation_period_s)
                .bind(s.cache_window_s)
                .bind(s.max_token_lifetime_s)
                .bind(s.leeway_s)
                .bind(i64::from(s.auto_rotate))
                .bind(s.version)
                .bind(s.created_at_ms)
                .bind(s.updated_at_ms)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected(),
                KeyChange::UpdateSet { record: s, replaces } => sqlx::query(
                    "UPDATE key_sets SET name = ?, rotation_period_s = ?, cache_window_s = ?, max_token_lifetime_s = ?, \
                     leeway_s = ?, auto_rotate = ?, version = ?, updated_at_ms = ? WHERE id = ? AND version = ?",
                )
                .bind(&s.name)
                .bind(s.rotation_period_s)
                .bind(s.cache_window_s)
                .bind(s.max_token_lifetime_s)
                .bind(s.leeway_s)
                .bind(i64::from(s.auto_rotate))
                .bind(s.version)
                .bind(s.updated_at_ms)
                .bind(&s.id)
                .bind(replaces)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected(),
                KeyChange::InsertKey(k) => sqlx::query(
                    "INSERT INTO signing_keys (id, set_id, kid, alg, state, public_jwk_json, sealed_private, created_at_ms, \
                     activated_at_ms, retired_at_ms, removed_at_ms, revoked_at_ms, revoke_reason, promote_at_ms) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&k.id)
                .bind(&k.set_id)
                .bind(&k.kid)
                .bind(&k.alg)
                .bind(&k.state)
                .bind(&k.public_jwk_json)
                .bind(&k.sealed_private)
                .bind(k.created_at_ms)
                .bind(k.activated_at_ms)
                .bind(k.retired_at_ms)
                .bind(k.removed_at_ms)
                .bind(k.revoked_at_ms)
                .bind(&k.revoke_reason)
                .bind(k.promote_at_ms)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected(),
                KeyChange::UpdateKey { record: k, from_state } => sqlx::query(
                    "UPDATE signing_keys SET state = ?, sealed_private = ?, activated_at_ms = ?, retired_at_ms = ?, \
                     removed_at_ms = ?, revoked_at_ms = ?, revoke_reason = ? WHERE id = ? AND state = ?",
                )
                .bind(&k.state)
                .bind(&k.sealed_private)
                .bind(k.activated_at_ms)
                .bind(k.retired_at_ms)
                .bind(k.removed_at_ms)
                .bind(k.revoked_at_ms)
                .bind(&k.revoke_reason)
                .bind(&k.id)
                .bind(from_state)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected(),
            };
            if affected != 1 {
                return Err(StoreError::Conflict(
                    "the key set was changed meanwhile (another rotation won); reload and retry"
                        .into(),
                ));
            }
        }
        append(&mut tx, event).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn key_sets(&self) -> Result<Vec<KeySetRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM key_sets ORDER BY name")
            .fetch_all(&self.read)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(set_of)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn signing_keys(&self, set_id: &str) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM signing_keys WHERE set_id = ? ORDER BY created_at_ms, id")
                .bind(set_id)
                .fetch_all(&self.read)
                .await
                .map_err(map_err)?;
        rows.iter()
            .map(key_of)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }
}
