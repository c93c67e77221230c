//! The PostgreSQL implementation of [`domain::ports::certs::CertStore`].

use async_trait::async_trait;
use domain::audit::AuditDraft;
use domain::ports::certs::{
    AppRecord, CertChange, CertRecord, CertStore, CsrRecord, HostnameRecord, PinsetRecord,
    ReleaseRecord, TlsKeyRecord,
};
use domain::ports::StoreError;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::postgres::{append, map_err, PgStore};

macro_rules! cert_columns {
    () => {
        "id, kind, hostname, subject, issuer, sans_json, serial_hex, key_type, not_before, not_after, \
         spki_pin, cert_sha256, cert_pem, chain_pem, key_id, issuer_id, status, created_at_ms"
    };
}

fn key_from_row(r: &PgRow) -> Result<TlsKeyRecord, sqlx::Error> {
    Ok(TlsKeyRecord {
        id: r.try_get("id")?,
        key_type: r.try_get("key_type")?,
        spki_der: r.try_get("spki_der")?,
        pin: r.try_get("pin")?,
        sealed_private: r.try_get("sealed_private")?,
        created_at_ms: r.try_get("created_at_ms")?,
    })
}

fn cert_from_row(r: &PgRow) -> Result<CertRecord, sqlx::Error> {
    let sans: String = r.try_get("sans_json")?;
    Ok(CertRecord {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        hostname: r.try_get("hostname")?,
        subject: r.try_get("subject")?,
        issuer: r.try_get("issuer")?,
        sans: serde_json::from_str(&sans).unwrap_or_default(),
        serial_hex: r.try_get("serial_hex")?,
        key_type: r.try_get("key_type")?,
        not_before: r.try_get("not_before")?,
        not_after: r.try_get("not_after")?,
        spki_pin: r.try_get("spki_pin")?,
        cert_sha256: r.try_get("cert_sha256")?,
        cert_pem: r.try_get("cert_pem")?,
        chain_pem: r.try_get("chain_pem")?,
        key_id: r.try_get("key_id")?,
        issuer_id: r.try_get("issuer_id")?,
        status: r.try_get("status")?,
        created_at_ms: r.try_get("created_at_ms")?,
    })
}

fn hostname_from_row(r: &PgRow) -> Result<HostnameRecord, sqlx::Error> {
    Ok(HostnameRecord {
        hostname: r.try_get("hostname")?,
        ca_id: r.try_get("ca_id")?,
        current_cert_id: r.try_get("current_cert_id")?,
        next_key_id: r.try_get("next_key_id")?,
        created_at_ms: r.try_get("created_at_ms")?,
    })
}

fn csr_from_row(r: &PgRow) -> Result<CsrRecord, sqlx::Error> {
    Ok(CsrRecord {
        id: r.try_get("id")?,
        hostname: r.try_get("hostname")?,
        key_id: r.try_get("key_id")?,
        csr_pem: r.try_get("csr_pem")?,
        created_at_ms: r.try_get("created_at_ms")?,
        fulfilled_by: r.try_get("fulfilled_by")?,
    })
}

fn pinset_from_row(r: &PgRow) -> Result<PinsetRecord, sqlx::Error> {
    Ok(PinsetRecord {
        hostname: r.try_get("hostname")?,
        include_subdomains: r.try_get::<i64, _>("include_subdomains")? != 0,
        expires_on: r.try_get("expires_on")?,
        version: r.try_get("version")?,
        pins_json: r.try_get("pins_json")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
    })
}

fn app_from_row(r: &PgRow) -> Result<AppRecord, sqlx::Error> {
    Ok(AppRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        platform: r.try_get("platform")?,
        bundle_id: r.try_get("bundle_id")?,
        created_at_ms: r.try_get("created_at_ms")?,
    })
}

fn release_from_row(r: &PgRow) -> Result<ReleaseRecord, sqlx::Error> {
    Ok(ReleaseRecord {
        id: r.try_get("id")?,
        app_id: r.try_get("app_id")?,
        version: r.try_get("version")?,
        released_on: r.try_get("released_on")?,
        hostname: r.try_get("hostname")?,
        pinset_version: r.try_get("pinset_version")?,
        pinset_json: r.try_get("pinset_json")?,
        export_format: r.try_get("export_format")?,
        supported: r.try_get::<i64, _>("supported")? != 0,
        created_at_ms: r.try_get("created_at_ms")?,
    })
}

async fn apply_one(conn: &mut PgConnection, change: &CertChange) -> Result<(), StoreError> {
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
        CertChange::InsertCert(c) => sqlx::query(concat!(
            "INSERT INTO certificates (",
            cert_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        ))
        .bind(&c.id)
        .bind(&c.kind)
        .bind(&c.hostname)
        .bind(&c.subject)
        .bind(&c.issuer)
        .bind(serde_json::to_string(&c.sans).unwrap_or_else(|_| "[]".into()))
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
        .bind(&c.status)
        .bind(c.created_at_ms)
        .execute(&mut *conn)
        .await,
        CertChange::SupersedeCert { id } => {
            sqlx::query("UPDATE certificates SET status = 'superseded' WHERE id = $1")
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
            .map_err(map_err)?;
            if r.rows_affected() != 1 {
                return Err(StoreError::Conflict("the CSR was already fulfilled".into()));
            }
            return Ok(());
        }
        CertChange::PutPinset { record: p, replaces } => {
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
                .map_err(map_err)?,
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
                .map_err(map_err)?,
            };
            if r.rows_affected() != 1 {
                return Err(StoreError::Conflict(
                    "the pin set was changed by someone else meanwhile; reload and retry".into(),
                ));
            }
            return Ok(());
        }
        CertChange::InsertApp(a) => sqlx::query(
            "INSERT INTO apps (id, name, platform, bundle_id, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(&a.platform)
        .bind(&a.bundle_id)
        .bind(a.created_at_ms)
        .execute(&mut *conn)
        .await,
        CertChange::InsertRelease(r) => sqlx::query(
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
        CertChange::SetReleaseSupported { id, supported } => {
            sqlx::query("UPDATE app_releases SET supported = $1 WHERE id = $2")
                .bind(i64::from(*supported))
                .bind(id)
                .execute(&mut *conn)
                .await
        }
    };
    done.map(|_| ()).map_err(map_err)
}

// Text sort keys use the "C" collation: byte order, as SQLite's BINARY collation sorts, so
// both stores list in the same order whatever the database's locale.
#[async_trait]
impl CertStore for PgStore {
    async fn apply_cert_changes(
        &self,
        changes: &[CertChange],
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for change in changes {
            apply_one(&mut tx, change).await?;
        }
        append(&mut tx, event).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn tls_key(&self, id: &str) -> Result<Option<TlsKeyRecord>, StoreError> {
        let r = sqlx::query("SELECT * FROM tls_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        r.as_ref().map(key_from_row).transpose().map_err(map_err)
    }

    async fn tls_key_by_pin(&self, pin: &str) -> Result<Option<TlsKeyRecord>, StoreError> {
        let r = sqlx::query("SELECT * FROM tls_keys WHERE pin = $1 ORDER BY created_at_ms LIMIT 1")
            .bind(pin)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        r.as_ref().map(key_from_row).transpose().map_err(map_err)
    }

    async fn certificates(&self) -> Result<Vec<CertRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            cert_columns!(),
            " FROM certificates ORDER BY created_at_ms DESC, id COLLATE \"C\""
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(cert_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn certificate(&self, id: &str) -> Result<Option<CertRecord>, StoreError> {
        let r = sqlx::query(concat!(
            "SELECT ",
            cert_columns!(),
            " FROM certificates WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        r.as_ref().map(cert_from_row).transpose().map_err(map_err)
    }

    async fn hostnames(&self) -> Result<Vec<HostnameRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM hostnames ORDER BY hostname COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(hostname_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn hostname(&self, hostname: &str) -> Result<Option<HostnameRecord>, StoreError> {
        let r = sqlx::query("SELECT * FROM hostnames WHERE hostname = $1")
            .bind(hostname)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        r.as_ref()
            .map(hostname_from_row)
            .transpose()
            .map_err(map_err)
    }

    async fn csrs(&self) -> Result<Vec<CsrRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM csrs ORDER BY created_at_ms DESC")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(csr_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn csr(&self, id: &str) -> Result<Option<CsrRecord>, StoreError> {
        let r = sqlx::query("SELECT * FROM csrs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        r.as_ref().map(csr_from_row).transpose().map_err(map_err)
    }

    async fn pinsets(&self) -> Result<Vec<PinsetRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM pinsets ORDER BY hostname COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(pinset_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn pinset(&self, hostname: &str) -> Result<Option<PinsetRecord>, StoreError> {
        let r = sqlx::query("SELECT * FROM pinsets WHERE hostname = $1")
            .bind(hostname)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        r.as_ref().map(pinset_from_row).transpose().map_err(map_err)
    }

    async fn apps(&self) -> Result<Vec<AppRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM apps ORDER BY name COLLATE \"C\", platform COLLATE \"C\"")
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        rows.iter()
            .map(app_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn releases(&self) -> Result<Vec<ReleaseRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM app_releases ORDER BY created_at_ms DESC")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(release_from_row)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }
}
