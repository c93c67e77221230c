//! Storage of [`domain::ports::policies::PolicyStore`].

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::ports::policies::{PolicyChange, PolicyRecord, PolicyStore};
use domain::ports::StoreError;

use crate::db::{map_err_on, SqlStore};
use crate::rows::policy_of;

#[async_trait]
impl PolicyStore for SqlStore {
    async fn apply_policy_changes(
        &self,
        changes: &[PolicyChange],
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for change in changes {
            // An update or delete guarded by `version = $n` that meets a concurrent writer waits
            // for its commit, then re-checks the guard against the committed row (READ
            // COMMITTED): the loser updates nothing and gets `Conflict`.
            let affected = match change {
                PolicyChange::Insert(p) => sqlx::query(
                    "INSERT INTO policies (id, name, position, enabled, mode, spec_json, version, created_at_ms, updated_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&p.id)
                .bind(&p.name)
                .bind(p.position)
                .bind(i64::from(p.enabled))
                .bind(&p.mode)
                .bind(&p.spec_json)
                .bind(p.version)
                .bind(p.created_at_ms)
                .bind(p.updated_at_ms)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("policies"))?
                .rows_affected(),
                PolicyChange::Update { record: p, replaces } => sqlx::query(
                    "UPDATE policies SET name = $1, position = $2, enabled = $3, mode = $4, spec_json = $5, \
                     version = $6, updated_at_ms = $7 WHERE id = $8 AND version = $9",
                )
                .bind(&p.name)
                .bind(p.position)
                .bind(i64::from(p.enabled))
                .bind(&p.mode)
                .bind(&p.spec_json)
                .bind(p.version)
                .bind(p.updated_at_ms)
                .bind(&p.id)
                .bind(replaces)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("policies"))?
                .rows_affected(),
                PolicyChange::Delete { id, replaces } => {
                    sqlx::query("DELETE FROM policies WHERE id = $1 AND version = $2")
                        .bind(id)
                        .bind(replaces)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err_on("policies"))?
                        .rows_affected()
                }
            };
            if affected != 1 {
                return Err(StoreError::Conflict(
                    "the policy was changed by someone else meanwhile; reload and retry".into(),
                ));
            }
        }
        self.commit(tx, event).await.map(|_| ())
    }

    async fn policies(&self) -> Result<Vec<PolicyRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM policies ORDER BY position, name{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), policy_of).await
    }

    async fn policy(&self, id: &str) -> Result<Option<PolicyRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM policies WHERE id = $1").bind(id);
        self.one(q, policy_of).await
    }
}
