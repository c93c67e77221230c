//! [`domain::ports::api_tokens::ApiTokenStore`]: tokens for the REST API. Create and revoke
//! commit with their audit event; the last use is a single conditional update.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::ports::api_tokens::{ApiTokenChange, ApiTokenRecord, ApiTokenStore};
use domain::ports::StoreError;
use uuid::Uuid;

use crate::db::{map_err_on, SqlStore};
use crate::rows::{api_token_of, API_TOKEN_COLUMNS};

#[async_trait]
impl ApiTokenStore for SqlStore {
    async fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let sql = format!(
            "SELECT {API_TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at_ms DESC, id{} DESC",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), api_token_of).await
    }

    async fn api_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<ApiTokenRecord>, StoreError> {
        let sql = format!("SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
        self.one(sqlx::query(&sql).bind(token_hash), api_token_of)
            .await
    }

    async fn apply_api_token_change(
        &self,
        change: &ApiTokenChange,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        match change {
            ApiTokenChange::Create(t) => {
                let sql = format!(
                    "INSERT INTO api_tokens ({API_TOKEN_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                );
                sqlx::query(&sql)
                    .bind(t.id.to_string())
                    .bind(&t.name)
                    .bind(&t.token_hash)
                    .bind(domain::api_tokens::scopes_text(&t.scopes))
                    .bind(&t.created_by)
                    .bind(t.created_at_ms)
                    .bind(t.expires_at_ms)
                    .bind(t.revoked_at_ms)
                    .bind(t.last_used_at_ms)
                    .bind(&t.last_used_ip)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err_on("api_tokens"))?;
            }
            ApiTokenChange::Revoke { id, now_ms } => {
                let revoked = sqlx::query(
                    "UPDATE api_tokens SET revoked_at_ms = $1 WHERE id = $2 \
                     AND revoked_at_ms IS NULL AND expires_at_ms > $1",
                )
                .bind(now_ms)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("api_tokens"))?
                .rows_affected();
                if revoked != 1 {
                    return Err(StoreError::Conflict(
                        "the token is already revoked or expired (or was removed)".into(),
                    ));
                }
            }
        }
        self.commit(tx, event).await.map(|_| ())
    }

    async fn touch_api_token(
        &self,
        id: Uuid,
        at_ms: i64,
        ip: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at_ms = $1, last_used_ip = $2 \
             WHERE id = $3 AND (last_used_at_ms IS NULL OR last_used_at_ms <= $1)",
        )
        .bind(at_ms)
        .bind(ip)
        .bind(id.to_string())
        .execute(&self.write)
        .await
        .map(|_| ())
        .map_err(map_err_on("api_tokens"))
    }
}
