//! The SQLite implementation of [`domain::ports::policies::PolicyStore`].

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::ports::policies::{PolicyChange, PolicyRecord, PolicyStore};
use domain::ports::StoreError;

use crate::rows::policy_of;
use crate::sqlite::{append, map_err, SqliteStore};

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn apply_policy_changes(
        &self,
        changes: &[PolicyChange],
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await.map_err(map_err)?;
        for change in changes {
            let affected = match change {
                PolicyChange::Insert(p) => sqlx::query(
                    "INSERT INTO policies (id, name, position, enabled, mode, spec_json, version, created_at_ms, updated_at_ms) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                .map_err(map_err)?
                .rows_affected(),
                PolicyChange::Update { record: p, replaces } => sqlx::query(
                    "UPDATE policies SET name = ?, position = ?, enabled = ?, mode = ?, spec_json = ?, version = ?, \
                     updated_at_ms = ? WHERE id = ? AND version = ?",
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
                .map_err(map_err)?
                .rows_affected(),
                PolicyChange::Delete { id, replaces } => sqlx::query("DELETE FROM policies WHERE id = ? AND version = ?")
                    .bind(id)
                    .bind(replaces)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected(),
            };
            if affected != 1 {
                return Err(StoreError::Conflict(
                    "the policy was changed by someone else meanwhile; reload and retry".into(),
                ));
            }
        }
        append(&mut tx, event).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn policies(&self) -> Result<Vec<PolicyRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM policies ORDER BY position, name")
            .fetch_all(&self.read)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(policy_of)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(map_err)
    }
}
