//! Storage of [`domain::ports::clients::ClientStore`].

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::ports::clients::{
    ClientChange, ClientRecord, ClientStore, ClientUsageRecord, SecretRecord, UsageReport,
};
use domain::ports::StoreError;

use crate::db::{map_err, map_err_on, SqlStore};
use crate::rows::{client_of, json_list, secret_of, usage_of};

#[async_trait]
impl ClientStore for SqlStore {
    async fn apply_client_changes(
        &self,
        changes: &[ClientChange],
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for change in changes {
            let affected = match change {
                ClientChange::Insert(c) => sqlx::query(
                    "INSERT INTO clients (id, client_id, name, description, kind, platform, redirect_uris_json, \
                     grant_types_json, scopes_json, access_token_lifetime_s, auth_method, jwks_json, policy_id, \
                     enabled, version, created_at_ms, updated_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                )
                .bind(&c.id)
                .bind(&c.client_id)
                .bind(&c.name)
                .bind(&c.description)
                .bind(c.kind.as_str())
                .bind(c.platform.as_str())
                .bind(json_list(&c.redirect_uris))
                .bind(json_list(&c.grant_types))
                .bind(json_list(&c.scopes))
                .bind(c.access_token_lifetime_s)
                .bind(c.auth_method.as_str())
                .bind(&c.jwks_json)
                .bind(&c.policy_id)
                .bind(i64::from(c.enabled))
                .bind(c.version)
                .bind(c.created_at_ms)
                .bind(c.updated_at_ms)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("clients"))?
                .rows_affected(),
                ClientChange::Update { record: c, replaces } => sqlx::query(
                    "UPDATE clients SET name = $1, description = $2, platform = $3, redirect_uris_json = $4, \
                     grant_types_json = $5, scopes_json = $6, access_token_lifetime_s = $7, auth_method = $8, \
                     jwks_json = $9, policy_id = $10, enabled = $11, version = $12, updated_at_ms = $13 \
                     WHERE id = $14 AND version = $15",
                )
                .bind(&c.name)
                .bind(&c.description)
                .bind(c.platform.as_str())
                .bind(json_list(&c.redirect_uris))
                .bind(json_list(&c.grant_types))
                .bind(json_list(&c.scopes))
                .bind(c.access_token_lifetime_s)
                .bind(c.auth_method.as_str())
                .bind(&c.jwks_json)
                .bind(&c.policy_id)
                .bind(i64::from(c.enabled))
                .bind(c.version)
                .bind(c.updated_at_ms)
                .bind(&c.id)
                .bind(replaces)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("clients"))?
                .rows_affected(),
                ClientChange::Delete { id, replaces } => {
                    sqlx::query("DELETE FROM clients WHERE id = $1 AND version = $2")
                        .bind(id)
                        .bind(replaces)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err_on("clients"))?
                        .rows_affected()
                }
                ClientChange::AddSecret(s) => sqlx::query(
                    "INSERT INTO client_secrets (id, client_row_id, phc_hash, hint, created_at_ms, expires_at_ms, \
                     last_used_at_ms, revoked_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&s.id)
                .bind(&s.client_row_id)
                .bind(&s.phc_hash)
                .bind(&s.hint)
                .bind(s.created_at_ms)
                .bind(s.expires_at_ms)
                .bind(s.last_used_at_ms)
                .bind(s.revoked_at_ms)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("client_secrets"))?
                .rows_affected(),
                ClientChange::ExpireSecret { id, expires_at_ms } => sqlx::query(
                    "UPDATE client_secrets SET expires_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL \
                     AND (expires_at_ms IS NULL OR expires_at_ms > $1)",
                )
                .bind(expires_at_ms)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("client_secrets"))?
                .rows_affected(),
                ClientChange::RevokeSecret { id, revoked_at_ms } => sqlx::query(
                    "UPDATE client_secrets SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL",
                )
                .bind(revoked_at_ms)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("client_secrets"))?
                .rows_affected(),
            };
            if affected != 1 {
                return Err(StoreError::Conflict(
                    "the client was changed by someone else meanwhile; reload and retry".into(),
                ));
            }
        }
        self.commit(tx, event).await.map(|_| ())
    }

    async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM clients ORDER BY name{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), client_of).await
    }

    async fn client_secrets(&self) -> Result<Vec<SecretRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM client_secrets ORDER BY created_at_ms DESC, id{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), secret_of).await
    }

    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM clients WHERE id = $1").bind(id);
        self.one(q, client_of).await
    }

    async fn secrets_of(&self, client_row_id: &str) -> Result<Vec<SecretRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM client_secrets WHERE client_row_id = $1 ORDER BY created_at_ms DESC, id{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql).bind(client_row_id), secret_of)
            .await
    }

    async fn record_client_usage(&self, usage: &UsageReport) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for (id, used_at_ms) in &usage.secrets {
            sqlx::query(
                "UPDATE client_secrets SET last_used_at_ms = $1 \
                 WHERE id = $2 AND (last_used_at_ms IS NULL OR last_used_at_ms < $1)",
            )
            .bind(used_at_ms)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err_on("client_secrets"))?;
        }
        // One upsert per client, read from `clients` by its OAuth client_id: an unknown id
        // selects no row and inserts nothing. (`WHERE` in the SELECT also keeps SQLite from
        // reading `ON CONFLICT` as a join constraint.)
        for (client_id, count) in &usage.tokens {
            sqlx::query(
                "INSERT INTO client_usage (client_row_id, tokens_issued, last_token_at_ms) \
                 SELECT id, $2, $3 FROM clients WHERE client_id = $1 \
                 ON CONFLICT (client_row_id) DO UPDATE SET \
                 tokens_issued = client_usage.tokens_issued + excluded.tokens_issued, \
                 last_token_at_ms = CASE WHEN client_usage.last_token_at_ms IS NULL \
                 OR client_usage.last_token_at_ms < excluded.last_token_at_ms \
                 THEN excluded.last_token_at_ms ELSE client_usage.last_token_at_ms END",
            )
            .bind(client_id)
            .bind(count)
            .bind(usage.now_ms)
            .execute(&mut *tx)
            .await
            .map_err(map_err_on("client_usage"))?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn client_usage(&self) -> Result<Vec<ClientUsageRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM client_usage ORDER BY client_row_id{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), usage_of).await
    }
}
