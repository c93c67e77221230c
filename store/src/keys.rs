//! Storage of [`domain::ports::keys::KeyStore`].

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::ports::keys::{KeyChange, KeySetRecord, KeyStore, SigningKeyRecord};
use domain::ports::StoreError;

use crate::db::{map_err_on, SqlStore};
use crate::rows::{key_of, set_of};

#[async_trait]
impl KeyStore for SqlStore {
    async fn apply_key_changes(
        &self,
        changes: &[KeyChange],
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for change in changes {
            // Two replicas running the same rotation step: both guard on the set's version, the
            // second waits for the first's commit, re-checks the guard and updates nothing
            // (`Conflict`); the partial unique indexes hold "one active, one next" regardless.
            let affected = match change {
                KeyChange::InsertSet(s) => sqlx::query(
                    "INSERT INTO key_sets (id, name, alg, rotation_period_s, cache_window_s, max_token_lifetime_s, \
                     leeway_s, auto_rotate, version, created_at_ms, updated_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
                .map_err(map_err_on("key_sets"))?
                .rows_affected(),
                KeyChange::UpdateSet { record: s, replaces } => sqlx::query(
                    "UPDATE key_sets SET name = $1, rotation_period_s = $2, cache_window_s = $3, \
                     max_token_lifetime_s = $4, leeway_s = $5, auto_rotate = $6, version = $7, updated_at_ms = $8 \
                     WHERE id = $9 AND version = $10",
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
                .map_err(map_err_on("key_sets"))?
                .rows_affected(),
                KeyChange::InsertKey(k) => sqlx::query(
                    "INSERT INTO signing_keys (id, set_id, kid, alg, state, public_jwk_json, sealed_private, created_at_ms, \
                     activated_at_ms, retired_at_ms, removed_at_ms, revoked_at_ms, revoke_reason, promote_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&k.id)
                .bind(&k.set_id)
                .bind(&k.kid)
                .bind(&k.alg)
                .bind(k.state.as_str())
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
                .map_err(map_err_on("signing_keys"))?
                .rows_affected(),
                KeyChange::UpdateKey { record: k, from_state } => sqlx::query(
                    "UPDATE signing_keys SET state = $1, sealed_private = $2, activated_at_ms = $3, retired_at_ms = $4, \
                     removed_at_ms = $5, revoked_at_ms = $6, revoke_reason = $7 WHERE id = $8 AND state = $9",
                )
                .bind(k.state.as_str())
                .bind(&k.sealed_private)
                .bind(k.activated_at_ms)
                .bind(k.retired_at_ms)
                .bind(k.removed_at_ms)
                .bind(k.revoked_at_ms)
                .bind(&k.revoke_reason)
                .bind(&k.id)
                .bind(from_state.as_str())
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("signing_keys"))?
                .rows_affected(),
            };
            if affected != 1 {
                return Err(StoreError::Conflict(
                    "the key set was changed meanwhile (another rotation won); reload and retry"
                        .into(),
                ));
            }
        }
        self.commit(tx, event).await?;
        let erased = changes.iter().any(
            |c| matches!(c, KeyChange::UpdateKey { record, .. } if record.sealed_private.is_none()),
        );
        if erased {
            self.scrub().await;
        }
        Ok(())
    }

    async fn key_sets(&self) -> Result<Vec<KeySetRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM key_sets ORDER BY name{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), set_of).await
    }

    async fn key_set(&self, id_or_name: &str) -> Result<Option<KeySetRecord>, StoreError> {
        // An id match wins over a name that happens to equal another set's id.
        let q = sqlx::query(
            "SELECT * FROM key_sets WHERE id = $1 OR name = $1 \
             ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(id_or_name);
        self.one(q, set_of).await
    }

    async fn signing_keys(&self, set_id: &str) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM signing_keys WHERE set_id = $1 ORDER BY created_at_ms, id{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql).bind(set_id), key_of).await
    }
}
