//! Storage of certificates, TLS keys, hostnames and CSRs ([`domain::ports::certs::CertStore`]);
//! the pin-set steps of a certificate batch are written by [`crate::pinsets`].

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::certs::CertStatus;
use domain::ports::certs::{
    CertChange, CertRecord, CertStore, CsrRecord, HostnameRecord, TlsKeyRecord,
};
use domain::ports::StoreError;
use sqlx::AnyConnection;

use crate::db::{map_err_on, SqlStore};
use crate::rows::{cert_of, csr_of, hostname_of, json_list, tls_key_of, CERT_COLUMNS};

async fn apply_one(conn: &mut AnyConnection, change: &CertChange) -> Result<(), StoreError> {
    let table = match change {
        CertChange::InsertKey(_) => "tls_keys",
        CertChange::InsertCert(_) | CertChange::SupersedeCert { .. } => "certificates",
        CertChange::UpsertHostname(_) => "hostnames",
        CertChange::InsertCsr(_) | CertChange::FulfilCsr { .. } => "csrs",
        CertChange::Pinset(step) => return crate::pinsets::apply_one(conn, step).await,
    };
    let done = match change {
        CertChange::InsertKey(k) => sqlx::query(
            "INSERT INTO tls_keys (id, key_type, spki_der, pin, sealed_private, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&k.id)
        .bind(&k.key_type)
        .bind(&k.spki_der)
        .bind(&k.pin)
        .bind(&k.sealed_private)
        .bind(k.created_at_ms)
        .execute(&mut *conn)
        .await,
        CertChange::InsertCert(c) => sqlx::query(&format!(
            "INSERT INTO certificates ({CERT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        ))
        .bind(&c.id)
        .bind(c.kind.as_str())
        .bind(&c.hostname)
        .bind(&c.subject)
        .bind(&c.issuer)
        .bind(json_list(&c.sans))
        .bind(&c.serial_hex)
        .bind(&c.key_type)
        .bind(&c.not_before)
        .bind(&c.not_after)
        .bind(&c.spki_pin)
        .bind(&c.cert_sha256)
        .bind(&c.cert_pem)
        .bind(&c.chain_pem)
        .bind(&c.key_id)
        .bind(&c.issuer_id)
        .bind(c.status.as_str())
        .bind(c.created_at_ms)
        .execute(&mut *conn)
        .await,
        CertChange::SupersedeCert { id } => {
            sqlx::query("UPDATE certificates SET status = $1 WHERE id = $2")
                .bind(CertStatus::Superseded.as_str())
                .bind(id)
                .execute(&mut *conn)
                .await
        }
        CertChange::UpsertHostname(h) => sqlx::query(
            "INSERT INTO hostnames (hostname, ca_id, current_cert_id, next_key_id, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (hostname) DO UPDATE SET ca_id = excluded.ca_id, \
             current_cert_id = excluded.current_cert_id, next_key_id = excluded.next_key_id",
        )
        .bind(&h.hostname)
        .bind(&h.ca_id)
        .bind(&h.current_cert_id)
        .bind(&h.next_key_id)
        .bind(h.created_at_ms)
        .execute(&mut *conn)
        .await,
        CertChange::InsertCsr(c) => sqlx::query(
            "INSERT INTO csrs (id, hostname, key_id, csr_pem, created_at_ms, fulfilled_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&c.id)
        .bind(&c.hostname)
        .bind(&c.key_id)
        .bind(&c.csr_pem)
        .bind(c.created_at_ms)
        .bind(&c.fulfilled_by)
        .execute(&mut *conn)
        .await,
        CertChange::FulfilCsr { id, cert_id } => {
            let r = sqlx::query(
                "UPDATE csrs SET fulfilled_by = $1 WHERE id = $2 AND fulfilled_by IS NULL",
            )
            .bind(cert_id)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(map_err_on(table))?;
            if r.rows_affected() != 1 {
                return Err(StoreError::Conflict("the CSR was already fulfilled".into()));
            }
            return Ok(());
        }
        // Returned above: the pin-set adapter writes that step.
        CertChange::Pinset(_) => return Ok(()),
    };
    let affected = done.map_err(map_err_on(table))?.rows_affected();
    // An update of a row that does not exist changed nothing: refuse the batch rather than
    // commit an audit event for a change that never happened.
    if matches!(change, CertChange::SupersedeCert { .. }) && affected != 1 {
        return Err(StoreError::Conflict(format!(
            "the {} row was removed meanwhile; reload and retry",
            table.trim_end_matches('s')
        )));
    }
    Ok(())
}

#[async_trait]
impl CertStore for SqlStore {
    async fn apply_cert_changes(
        &self,
        changes: &[CertChange],
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for change in changes {
            apply_one(&mut tx, change).await?;
        }
        self.commit(tx, event).await.map(|_| ())
    }

    async fn tls_key(&self, id: &str) -> Result<Option<TlsKeyRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM tls_keys WHERE id = $1").bind(id);
        self.one(q, tls_key_of).await
    }

    async fn tls_key_by_pin(&self, pin: &str) -> Result<Option<TlsKeyRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM tls_keys WHERE pin = $1 ORDER BY created_at_ms LIMIT 1")
            .bind(pin);
        self.one(q, tls_key_of).await
    }

    async fn certificates(&self) -> Result<Vec<CertRecord>, StoreError> {
        let sql = format!(
            "SELECT {CERT_COLUMNS} FROM certificates ORDER BY created_at_ms DESC, id{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), cert_of).await
    }

    async fn certificate(&self, id: &str) -> Result<Option<CertRecord>, StoreError> {
        let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE id = $1");
        self.one(sqlx::query(&sql).bind(id), cert_of).await
    }

    async fn hostnames(&self) -> Result<Vec<HostnameRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM hostnames ORDER BY hostname{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), hostname_of).await
    }

    async fn hostname(&self, hostname: &str) -> Result<Option<HostnameRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM hostnames WHERE hostname = $1").bind(hostname);
        self.one(q, hostname_of).await
    }

    async fn csrs(&self) -> Result<Vec<CsrRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM csrs ORDER BY created_at_ms DESC, id");
        self.all(q, csr_of).await
    }

    async fn csr(&self, id: &str) -> Result<Option<CsrRecord>, StoreError> {
        let q = sqlx::query("SELECT * FROM csrs WHERE id = $1").bind(id);
        self.one(q, csr_of).await
    }
}
