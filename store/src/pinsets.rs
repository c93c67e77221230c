//! Storage of pin sets, apps and app releases ([`domain::ports::pinsets::PinsetStore`]), and
//! the one writer of a pin-set step, also when a certificate batch carries it.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::pinsets::AppPlatform;
use domain::ports::pinsets::{AppRecord, PinsetChange, PinsetRecord, PinsetStore, ReleaseRecord};
use domain::ports::StoreError;
use sqlx::AnyConnection;

use crate::db::{map_err_on, SqlStore};
use crate::rows::{app_of, pinset_of, release_of};

/// Applies one step inside the caller's transaction.
pub(crate) async fn apply_one(
    conn: &mut AnyConnection,
    change: &PinsetChange,
) -> Result<(), StoreError> {
    let table = match change {
        PinsetChange::Put { .. } => "pinsets",
        PinsetChange::InsertApp(_) => "apps",
        PinsetChange::InsertRelease(_) | PinsetChange::SetReleaseSupported { .. } => "app_releases",
    };
    let done = match change {
        PinsetChange::Put { record: p, replaces } => {
            let r = match replaces {
                None => sqlx::query(
                    "INSERT INTO pinsets (hostname, include_subdomains, expires_on, version, pins_json, updated_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&p.hostname)
                .bind(i64::from(p.include_subdomains))
                .bind(&p.expires_on)
                .bind(p.version)
                .bind(&p.pins_json)
                .bind(p.updated_at_ms)
                .execute(&mut *conn)
                .await
                .map_err(map_err_on(table))?,
                Some(v) => sqlx::query(
                    "UPDATE pinsets SET include_subdomains = $1, expires_on = $2, version = $3, pins_json = $4, \
                     updated_at_ms = $5 WHERE hostname = $6 AND version = $7",
                )
                .bind(i64::from(p.include_subdomains))
                .bind(&p.expires_on)
                .bind(p.version)
                .bind(&p.pins_json)
                .bind(p.updated_at_ms)
                .bind(&p.hostname)
                .bind(v)
                .execute(&mut *conn)
                .await
                .map_err(map_err_on(table))?,
            };
            if r.rows_affected() != 1 {
                return Err(StoreError::Conflict(
                    "the pin set was changed by someone else meanwhile; reload and retry".into(),
                ));
            }
            return Ok(());
        }
        PinsetChange::InsertApp(a) => sqlx::query(
            "INSERT INTO apps (id, name, platform, bundle_id, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(a.platform.as_str())
        .bind(&a.bundle_id)
        .bind(a.created_at_ms)
        .execute(&mut *conn)
        .await,
        PinsetChange::InsertRelease(r) => sqlx::query(
            "INSERT INTO app_releases (id, app_id, version, released_on, hostname, pinset_version, pinset_json, \
             export_format, supported, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&r.id)
        .bind(&r.app_id)
        .bind(&r.version)
        .bind(&r.released_on)
        .bind(&r.hostname)
        .bind(r.pinset_version)
        .bind(&r.pinset_json)
        .bind(&r.export_format)
        .bind(i64::from(r.supported))
        .bind(r.created_at_ms)
        .execute(&mut *conn)
        .await,
        PinsetChange::SetReleaseSupported { id, supported } => {
            sqlx::query("UPDATE app_releases SET supported = $1 WHERE id = $2")
                .bind(i64::from(*supported))
                .bind(id)
                .execute(&mut *conn)
                .await
        }
    };
    let affected = done.map_err(map_err_on(table))?.rows_affected();
    // Flagging a release that does not exist changed nothing: refuse the batch rather than
    // commit an audit event for a change that never happened.
    if matches!(change, PinsetChange::SetReleaseSupported { .. }) && affected != 1 {
        return Err(StoreError::Conflict(
            "the release was removed meanwhile; reload and retry".into(),
        ));
    }
    Ok(())
}

#[async_trait]
impl PinsetStore for SqlStore {
    async fn apply_pinset_changes(
        &self,
        changes: &[PinsetChange],
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for change in changes {
            apply_one(&mut tx, change).await?;
        }
        self.commit(tx, event).await.map(|_| ())
    }

    async fn pinsets(&self) -> Result<Vec<PinsetRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM pinsets ORDER BY hostname{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), pinset_of).await
    }

    async fn pinset(&self, hostname: &str) -> Result<Option<PinsetRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM pinsets WHERE hostname = $1").bind(hostname);
        self.one(q, pinset_of).await
    }

    async fn apps(&self) -> Result<Vec<AppRecord>, StoreError> {
        let c = self.dialect.bytewise();
        let sql = format!("SELECT * FROM apps ORDER BY name{c}, platform{c}");
        self.all(sqlx::query(&sql), app_of).await
    }

    async fn app(
        &self,
        platform: AppPlatform,
        bundle_id: &str,
    ) -> Result<Option<AppRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM apps WHERE platform = $1 AND bundle_id = $2")
            .bind(platform.as_str())
            .bind(bundle_id);
        self.one(q, app_of).await
    }

    async fn releases(&self) -> Result<Vec<ReleaseRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM app_releases ORDER BY created_at_ms DESC, id");
        self.all(q, release_of).await
    }
}
