//! Storage of [`domain::ports::sealed::SealedStore`].

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::ports::sealed::{SealedStore, SealedValue};
use domain::ports::StoreError;
use sqlx::Row;

use crate::db::{map_err, map_err_on, SqlStore};

/// Tables holding a `sealed_private` column, keyed by `id`. These fixed names are the only
/// identifiers formatted into SQL; every value is bound.
const TABLES: &[&str] = &[
    "tls_keys",
    "signing_keys",
    "bundle_signers",
    "master_key_checks",
    "audit_chain_keys",
];

#[async_trait]
impl SealedStore for SqlStore {
    async fn sealed_values(&self) -> Result<Vec<SealedValue>, StoreError> {
        let mut out = Vec::new();
        for table in TABLES {
            let rows = sqlx::query(&format!(
                "SELECT id, sealed_private FROM {table} WHERE sealed_private IS NOT NULL ORDER BY id{}",
                self.dialect.bytewise()
            ))
            .fetch_all(&self.read)
            .await
            .map_err(map_err)?;
            for r in rows {
                out.push(SealedValue {
                    table: (*table).to_owned(),
                    id: r.try_get("id").map_err(map_err)?,
                    sealed: r.try_get("sealed_private").map_err(map_err)?,
                });
            }
        }
        Ok(out)
    }

    async fn replace_sealed(
        &self,
        pairs: &[(SealedValue, Vec<u8>)],
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for (old, new) in pairs {
            let table = TABLES
                .iter()
                .copied()
                .find(|t| *t == old.table)
                .ok_or_else(|| StoreError::Other(format!("unknown sealed table {}", old.table)))?;
            let affected = sqlx::query(&format!(
                "UPDATE {table} SET sealed_private = $1 WHERE id = $2 AND sealed_private = $3"
            ))
            .bind(new)
            .bind(&old.id)
            .bind(&old.sealed)
            .execute(&mut *tx)
            .await
            .map_err(map_err_on(table))?
            .rows_affected();
            if affected != 1 {
                return Err(StoreError::Conflict(format!(
                    "{} {} changed during the rewrap; nothing was changed, run it again",
                    old.table, old.id
                )));
            }
        }
        self.commit(tx, event).await?;
        // The values sealed under the old master key must not stay readable in the file.
        self.scrub().await;
        Ok(())
    }

    async fn put_master_key_check(
        &self,
        id: &str,
        sealed: &[u8],
        now_ms: i64,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO master_key_checks (id, sealed_private, created_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(sealed)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(map_err_on("master_key_checks"))?;
        self.commit(tx, event).await.map(|_| ())
    }
}
