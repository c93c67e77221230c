//! Storage of [`domain::ports::gates::GateStore`]: gates, the bundle signer, the gate-wide
//! settings and the published bundles.

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::ports::gates::{
    BundleRecord, GateChange, GateRecord, GateReport, GateSettingsRecord, GateStore, ReportedError,
    SignerRecord,
};
use domain::ports::StoreError;

use crate::db::{map_err, map_err_on, SqlStore};

/// Runs a gate report's update, guarded (the row still holds what the reporter saw) or not;
/// returns the rows it changed.
async fn exec(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    update: &str,
    guarded: bool,
    report: &GateReport,
    mode: &str,
    reason: Option<&str>,
) -> Result<u64, StoreError> {
    let sql = if guarded {
        format!("{update} AND COALESCE(applied_version, -1) = $6 AND COALESCE(last_error, '') = $7")
    } else {
        update.to_owned()
    };
    let mut q = sqlx::query(&sql)
        .bind(report.now_ms)
        .bind(report.applied_version)
        .bind(mode)
        .bind(reason)
        .bind(&report.gate_id);
    if guarded {
        q = q
            .bind(report.seen.0.unwrap_or(-1))
            .bind(report.seen.1.as_deref().unwrap_or_default());
    }
    Ok(q.execute(&mut **tx)
        .await
        .map_err(map_err_on("gates"))?
        .rows_affected())
}
use crate::rows::{bundle_of, gate_of, gate_settings_of, json_list, signer_of};

#[async_trait]
impl GateStore for SqlStore {
    async fn apply_gate_change(
        &self,
        change: &GateChange,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (affected, refusal) = match change {
            GateChange::Insert(g) => (
                sqlx::query(
                    "INSERT INTO gates (id, name, labels_json, push_url, public_key, enrol_token_hash, \
                     enrol_expires_at_ms, enrolled_at_ms, revoked_at_ms, version, created_at_ms, updated_at_ms, \
                     encryption_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&g.id)
                .bind(&g.name)
                .bind(json_list(&g.labels))
                .bind(&g.push_url)
                .bind(&g.public_key)
                .bind(&g.enrol_token_hash)
                .bind(g.enrol_expires_at_ms)
                .bind(g.enrolled_at_ms)
                .bind(g.revoked_at_ms)
                .bind(g.version)
                .bind(g.created_at_ms)
                .bind(g.updated_at_ms)
                .bind(&g.encryption_key)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("gates"))?
                .rows_affected(),
                "the gate could not be added",
            ),
            GateChange::Enrol {
                id,
                token_hash,
                public_key,
                encryption_key,
                now_ms,
            } => (
                sqlx::query(
                    "UPDATE gates SET public_key = $1, encryption_key = $5, enrolled_at_ms = $2, \
                     enrol_token_hash = NULL, enrol_expires_at_ms = NULL, version = version + 1, \
                     updated_at_ms = $2 \
                     WHERE id = $3 AND enrol_token_hash = $4 AND enrol_expires_at_ms > $2 \
                     AND public_key IS NULL AND revoked_at_ms IS NULL",
                )
                .bind(public_key)
                .bind(now_ms)
                .bind(id)
                .bind(token_hash)
                .bind(encryption_key)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("gates"))?
                .rows_affected(),
                "the enrolment token was used, replaced or revoked meanwhile",
            ),
            GateChange::SetEncryptionKey {
                id,
                encryption_key,
                replaces,
                now_ms,
            } => (
                sqlx::query(
                    "UPDATE gates SET encryption_key = $1, updated_at_ms = $2 \
                     WHERE id = $3 AND COALESCE(encryption_key, '') = $4 \
                     AND public_key IS NOT NULL AND revoked_at_ms IS NULL",
                )
                .bind(encryption_key)
                .bind(now_ms)
                .bind(id)
                .bind(replaces.as_deref().unwrap_or_default())
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("gates"))?
                .rows_affected(),
                "the gate's encryption key was changed meanwhile, or the gate was revoked",
            ),
            GateChange::NewToken {
                id,
                token_hash,
                expires_at_ms,
                replaces,
            } => (
                sqlx::query(
                    "UPDATE gates SET enrol_token_hash = $1, enrol_expires_at_ms = $2, \
                     version = version + 1, updated_at_ms = $3 \
                     WHERE id = $4 AND version = $5 AND public_key IS NULL AND revoked_at_ms IS NULL",
                )
                .bind(token_hash)
                .bind(expires_at_ms)
                .bind(domain::now_ms())
                .bind(id)
                .bind(replaces)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("gates"))?
                .rows_affected(),
                "the gate was changed meanwhile (enrolled or revoked); reload and retry",
            ),
            GateChange::Revoke {
                id,
                now_ms,
                replaces,
            } => (
                sqlx::query(
                    "UPDATE gates SET revoked_at_ms = $1, enrol_token_hash = NULL, enrol_expires_at_ms = NULL, \
                     version = version + 1, updated_at_ms = $1 \
                     WHERE id = $2 AND version = $3 AND revoked_at_ms IS NULL",
                )
                .bind(now_ms)
                .bind(id)
                .bind(replaces)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("gates"))?
                .rows_affected(),
                "the gate was changed meanwhile; reload and retry",
            ),
        };
        if affected != 1 {
            return Err(StoreError::Conflict(refusal.into()));
        }
        self.commit(tx, event).await.map(|_| ())
    }

    async fn record_gate_report(
        &self,
        report: &GateReport,
        event: Option<AuditDraft>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // `applied_at_ms` moves only when the applied version changes (none applied: none);
        // `last_error_at_ms` only with a new refusal.
        let (mode, reason) = match &report.error {
            ReportedError::Keep => ("keep", None),
            ReportedError::Clear => ("clear", None),
            ReportedError::Refused(r) => ("set", Some(r.as_str())),
        };
        let update = "UPDATE gates SET last_seen_ms = $1, \
             applied_at_ms = CASE WHEN $2 IS NULL THEN NULL \
             WHEN applied_version = $2 THEN applied_at_ms ELSE $1 END, \
             applied_version = $2, \
             last_error = CASE WHEN $3 = 'keep' THEN last_error WHEN $3 = 'clear' THEN NULL ELSE $4 END, \
             last_error_at_ms = CASE WHEN $3 = 'keep' THEN last_error_at_ms WHEN $3 = 'clear' THEN NULL ELSE $1 END \
             WHERE id = $5 AND revoked_at_ms IS NULL";
        let guarded = event.is_some();
        let mut affected = exec(&mut tx, update, guarded, report, mode, reason).await?;
        let mut event = event;
        if guarded && affected == 0 {
            // Another report changed the row meanwhile (it wrote the event): record without one.
            event = None;
            affected = exec(&mut tx, update, false, report, mode, reason).await?;
        }
        // A revoked (or unknown) gate's report is not recorded, so its event is not written.
        match event {
            Some(event) if affected == 1 => self.commit(tx, event).await.map(|_| ()),
            _ => tx.commit().await.map_err(map_err),
        }
    }

    async fn gates(&self) -> Result<Vec<GateRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM gates ORDER BY name{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), gate_of).await
    }

    async fn gate(&self, id: &str) -> Result<Option<GateRecord>, StoreError> {
        self.one(
            sqlx::query("SELECT * FROM gates WHERE id = $1").bind(id),
            gate_of,
        )
        .await
    }

    async fn gate_by_token_hash(&self, token_hash: &str) -> Result<Option<GateRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM gates WHERE enrol_token_hash = $1").bind(token_hash);
        self.one(q, gate_of).await
    }

    async fn bundle_signer(&self) -> Result<Option<SignerRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM bundle_signers ORDER BY created_at_ms LIMIT 1");
        self.one(q, signer_of).await
    }

    async fn create_bundle_signer(
        &self,
        signer: &SignerRecord,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO bundle_signers (id, console_id, public_key, sealed_private, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&signer.id)
        .bind(&signer.console_id)
        .bind(&signer.public_key)
        .bind(&signer.sealed_private)
        .bind(signer.created_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(map_err_on("bundle_signers"))?;
        self.commit(tx, event).await.map(|_| ())
    }

    async fn gate_settings(&self) -> Result<Option<GateSettingsRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM gate_settings WHERE id = 1");
        self.one(q, gate_settings_of).await
    }

    async fn put_gate_settings(
        &self,
        s: &GateSettingsRecord,
        replaces: Option<i64>,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let affected = match replaces {
            None => sqlx::query(
                "INSERT INTO gate_settings (id, issuer, audiences_json, require_typ_at_jwt, routes_json, version, updated_at_ms, \
                 token_key_set_id, tls_hostname) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&s.issuer)
            .bind(json_list(&s.audiences))
            .bind(i64::from(s.require_typ_at_jwt))
            .bind(&s.routes_json)
            .bind(s.version)
            .bind(s.updated_at_ms)
            .bind(&s.token_key_set_id)
            .bind(&s.tls_hostname)
            .execute(&mut *tx)
            .await,
            Some(v) => sqlx::query(
                "UPDATE gate_settings SET issuer = $1, audiences_json = $2, require_typ_at_jwt = $3, \
                 routes_json = $4, version = $5, updated_at_ms = $6, token_key_set_id = $8, \
                 tls_hostname = $9 WHERE id = 1 AND version = $7",
            )
            .bind(&s.issuer)
            .bind(json_list(&s.audiences))
            .bind(i64::from(s.require_typ_at_jwt))
            .bind(&s.routes_json)
            .bind(s.version)
            .bind(s.updated_at_ms)
            .bind(v)
            .bind(&s.token_key_set_id)
            .bind(&s.tls_hostname)
            .execute(&mut *tx)
            .await,
        };
        let affected = match affected {
            Ok(done) => done.rows_affected(),
            // Two first saves at once: the loser finds the row the winner inserted.
            Err(e) => match map_err_on("gate_settings")(e) {
                StoreError::Duplicate { .. } => 0,
                other => return Err(other),
            },
        };
        if affected != 1 {
            return Err(StoreError::Conflict(
                "the gate settings were changed by someone else meanwhile; reload and retry".into(),
            ));
        }
        self.commit(tx, event).await.map(|_| ())
    }

    async fn publish_bundle(&self, b: &BundleRecord, event: AuditDraft) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO bundles (version, issued_at_ms, payload_sha256, content_sha256, envelope, size, cause, changes_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(b.version)
        .bind(b.issued_at_ms)
        .bind(&b.payload_sha256)
        .bind(&b.content_sha256)
        .bind(&b.envelope)
        .bind(b.size)
        .bind(&b.cause)
        .bind(json_list(&b.changes))
        .execute(&mut *tx)
        .await
        .map_err(map_err_on("bundles"))?;
        self.commit(tx, event).await.map(|_| ())
    }

    async fn latest_bundle(&self) -> Result<Option<BundleRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM bundles ORDER BY version DESC LIMIT 1");
        self.one(q, bundle_of).await
    }

    async fn bundle(&self, version: i64) -> Result<Option<BundleRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM bundles WHERE version = $1").bind(version);
        self.one(q, bundle_of).await
    }

    async fn bundles(&self, limit: i64) -> Result<Vec<BundleRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM bundles ORDER BY version DESC LIMIT $1")
            .bind(limit.clamp(1, 1000));
        self.all(q, bundle_of).await
    }
}
