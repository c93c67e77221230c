//! [`domain::ports::Store`]: admins and their passkeys, the setup link, WebAuthn ceremonies,
//! sessions, and reading and verifying the audit chain.

use async_trait::async_trait;
use domain::admins::{Admin, StoredPasskey};
use domain::audit::{
    AuditDraft, AuditEvent, AuditFilter, ChainError, ChainKey, ChainVerifier, Checkpoint,
};
use domain::ports::admins::PASSKEY_COUNTER_CONFLICT;
use domain::ports::{Ceremony, NewOwner, NewSignIn, Store, StoreError};
use domain::sessions::SessionRecord;
use domain::setup::SetupTokenRecord;
use futures_util::TryStreamExt;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::db::{map_err, map_err_on, DetailsIndex, SqlStore, FTS_CANDIDATES};
use crate::rows::{
    admin_of, event_of, passkey_of, session_of, ADMIN_COLUMNS, EVENT_COLUMNS, PASSKEY_COLUMNS,
    SESSION_COLUMNS,
};

pub(crate) async fn insert_passkey(
    conn: &mut AnyConnection,
    p: &StoredPasskey,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(p.id.to_string())
    .bind(p.admin_id.to_string())
    .bind(&p.credential_id)
    .bind(&p.passkey_json)
    .bind(p.created_at_ms)
    .bind(p.last_used_at_ms)
    .bind(&p.name)
    .bind(&p.aaguid)
    .bind(p.sign_count)
    .execute(conn)
    .await
    .map(|_| ())
    .map_err(map_err_on("passkeys"))
}

/// Records an accepted assertion: the passkey's new state, when it was used and its signature
/// counter, only if the counter moved forward (or the authenticator never counts: stored and
/// presented both 0). WebAuthn L3 §6.1.1 and the signCount step of §7.2: a counter that did not
/// move may mean a cloned authenticator. The check is in the `UPDATE`, so of two assertions
/// with the same counter racing (on PostgreSQL the second re-checks the row the first
/// committed) only one passes; the other is `Conflict(`[`PASSKEY_COUNTER_CONFLICT`]`)` and its
/// transaction writes nothing.
///
/// The name and AAGUID are not written: the admin may rename the passkey meanwhile, and an
/// assertion does not carry the AAGUID.
async fn update_passkey(conn: &mut AnyConnection, p: &StoredPasskey) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE passkeys SET passkey_json = $1, last_used_at_ms = $2, sign_count = $3 \
         WHERE id = $4 AND admin_id = $5 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))",
    )
    .bind(&p.passkey_json)
    .bind(p.last_used_at_ms)
    .bind(p.sign_count)
    .bind(p.id.to_string())
    .bind(p.admin_id.to_string())
    .execute(&mut *conn)
    .await
    .map_err(map_err_on("passkeys"))?
    .rows_affected();
    if updated == 1 {
        return Ok(());
    }
    // A passkey removed meanwhile is not a possible clone: say what happened instead.
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM passkeys WHERE id = $1 AND admin_id = $2")
            .bind(p.id.to_string())
            .bind(p.admin_id.to_string())
            .fetch_optional(conn)
            .await
            .map_err(map_err)?;
    Err(StoreError::Conflict(match exists {
        Some(_) => PASSKEY_COUNTER_CONFLICT.into(),
        None => "the passkey was removed meanwhile; sign in with another one".into(),
    }))
}

/// Inserts `a`; a taken username is `Duplicate { table: "admins" }`.
pub(crate) async fn insert_admin(conn: &mut AnyConnection, a: &Admin) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO admins ({ADMIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(a.id.to_string())
    .bind(&a.username)
    .bind(&a.display_name)
    .bind(a.role.as_str())
    .bind(i64::from(a.disabled))
    .bind(a.created_at_ms)
    .execute(conn)
    .await
    .map(|_| ())
    .map_err(map_err_on("admins"))
}

pub(crate) async fn insert_session(
    conn: &mut AnyConnection,
    s: &SessionRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, admin_id, created_at_ms, last_seen_at_ms, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&s.id_hash)
    .bind(s.admin_id.to_string())
    .bind(s.created_at_ms)
    .bind(s.last_seen_at_ms)
    .bind(&s.ip)
    .bind(&s.user_agent)
    .execute(conn)
    .await
    .map(|_| ())
    .map_err(map_err_on("sessions"))
}

async fn delete_session(conn: &mut AnyConnection, id_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(map_err_on("sessions"))
}

#[async_trait]
impl Store for SqlStore {
    async fn ready(&self) -> Result<(), StoreError> {
        self.schema_current().await
    }

    async fn count_admins(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM admins")
            .fetch_one(&self.read)
            .await
            .map_err(map_err)
    }

    async fn admin_by_username(&self, username: &str) -> Result<Option<Admin>, StoreError> {
        let sql = format!("SELECT {ADMIN_COLUMNS} FROM admins WHERE username = $1");
        self.one(sqlx::query(&sql).bind(username), admin_of).await
    }

    async fn admin_by_id(&self, id: Uuid) -> Result<Option<Admin>, StoreError> {
        let sql = format!("SELECT {ADMIN_COLUMNS} FROM admins WHERE id = $1");
        self.one(sqlx::query(&sql).bind(id.to_string()), admin_of)
            .await
    }

    async fn passkeys_of(&self, admin_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
        let sql = format!(
            "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE admin_id = $1 ORDER BY created_at_ms"
        );
        self.all(sqlx::query(&sql).bind(admin_id.to_string()), passkey_of)
            .await
    }

    async fn setup_token(&self, token_hash: &str) -> Result<Option<SetupTokenRecord>, StoreError> {
        sqlx::query_as::<_, (String, i64, i64, Option<i64>)>(
            "SELECT token_hash, created_at_ms, expires_at_ms, used_at_ms FROM setup_tokens \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await
        .map(|r| {
            r.map(
                |(token_hash, created_at_ms, expires_at_ms, used_at_ms)| SetupTokenRecord {
                    token_hash,
                    created_at_ms,
                    expires_at_ms,
                    used_at_ms,
                },
            )
        })
        .map_err(map_err)
    }

    async fn issue_setup_token(
        &self,
        record: &SetupTokenRecord,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // A new link revokes the earlier unused ones; used ones stay as the record of setup.
        sqlx::query("DELETE FROM setup_tokens WHERE used_at_ms IS NULL")
            .execute(&mut *tx)
            .await
            .map_err(map_err_on("setup_tokens"))?;
        sqlx::query(
            "INSERT INTO setup_tokens (token_hash, created_at_ms, expires_at_ms, used_at_ms) \
             VALUES ($1, $2, $3, NULL)",
        )
        .bind(&record.token_hash)
        .bind(record.created_at_ms)
        .bind(record.expires_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(map_err_on("setup_tokens"))?;
        self.commit(tx, event).await.map(|_| ())
    }

    async fn create_owner(
        &self,
        owner: &NewOwner,
        now_ms: i64,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // A concurrent consumer of the same token waits for this row (SQLite's single writer;
        // PostgreSQL's row lock under READ COMMITTED, then a re-check of `used_at_ms IS NULL`
        // against the committed row) and updates nothing.
        let used = sqlx::query(
            "UPDATE setup_tokens SET used_at_ms = $1 \
             WHERE token_hash = $2 AND used_at_ms IS NULL AND expires_at_ms > $1",
        )
        .bind(now_ms)
        .bind(&owner.setup_token_hash)
        .execute(&mut *tx)
        .await
        .map_err(map_err_on("setup_tokens"))?;
        if used.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "the setup link was used or expired meanwhile".into(),
            ));
        }
        let a = &owner.admin;
        insert_admin(&mut tx, a).await.map_err(|e| match e {
            StoreError::Duplicate { .. } => {
                StoreError::Conflict(format!("the username {} is taken", a.username))
            }
            other => other,
        })?;
        insert_passkey(&mut tx, &owner.passkey).await?;
        insert_session(&mut tx, &owner.session).await?;
        self.commit(tx, event).await.map(|_| ())
    }

    async fn put_ceremony(&self, c: &Ceremony) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ceremonies (id_hash, kind, state_json, expires_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&c.id_hash)
        .bind(&c.kind)
        .bind(&c.state_json)
        .bind(c.expires_at_ms)
        .execute(&self.write)
        .await
        .map(|_| ())
        .map_err(map_err_on("ceremonies"))
    }

    async fn take_ceremony(&self, id_hash: &str) -> Result<Option<Ceremony>, StoreError> {
        // Look first on a reader: an unknown id (anyone can send one) must not take the writer.
        let known = sqlx::query_scalar::<_, i64>("SELECT 1 FROM ceremonies WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(&self.read)
            .await
            .map_err(map_err)?;
        if known.is_none() {
            return Ok(None);
        }
        sqlx::query_as::<_, (String, String, String, i64)>(
            "DELETE FROM ceremonies WHERE id_hash = $1 RETURNING id_hash, kind, state_json, expires_at_ms",
        )
        .bind(id_hash)
        .fetch_optional(&self.write)
        .await
        .map(|r| {
            r.map(|(id_hash, kind, state_json, expires_at_ms)| Ceremony {
                id_hash,
                kind,
                state_json,
                expires_at_ms,
            })
        })
        .map_err(map_err)
    }

    async fn sign_in(&self, s: &NewSignIn, event: AuditDraft) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if let Some(old) = &s.replaces_session_hash {
            delete_session(&mut tx, old).await?;
        }
        if let Some(p) = &s.passkey {
            update_passkey(&mut tx, p).await?;
        }
        insert_session(&mut tx, &s.session).await?;
        self.commit(tx, event).await.map(|_| ())
    }

    async fn step_up(
        &self,
        id_hash: &str,
        new_id_hash: &str,
        p: &StoredPasskey,
        now_ms: i64,
        event: AuditDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let affected = sqlx::query(
            "UPDATE sessions SET stepped_up_at_ms = $1, id_hash = $2 WHERE id_hash = $3",
        )
        .bind(now_ms)
        .bind(new_id_hash)
        .bind(id_hash)
        .execute(&mut *tx)
        .await
        .map_err(map_err_on("sessions"))?
        .rows_affected();
        if affected != 1 {
            return Err(StoreError::Conflict(
                "the session ended; sign in again".into(),
            ));
        }
        update_passkey(&mut tx, p).await?;
        self.commit(tx, event).await.map(|_| ())
    }

    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id_hash = $1");
        self.one(sqlx::query(&sql).bind(id_hash), session_of).await
    }

    async fn touch_session(&self, id_hash: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at_ms = $1 WHERE id_hash = $2")
            .bind(now_ms)
            .bind(id_hash)
            .execute(&self.write)
            .await
            .map(|_| ())
            .map_err(map_err_on("sessions"))
    }

    async fn sign_out(&self, id_hash: &str, event: AuditDraft) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        delete_session(&mut tx, id_hash).await?;
        self.commit(tx, event).await.map(|_| ())
    }

    async fn purge_expired(
        &self,
        now_ms: i64,
        idle_ms: i64,
        absolute_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let s =
            sqlx::query("DELETE FROM sessions WHERE last_seen_at_ms <= $1 OR created_at_ms <= $2")
                .bind(now_ms - idle_ms)
                .bind(now_ms - absolute_ms)
                .execute(&mut *tx)
                .await
                .map_err(map_err_on("sessions"))?;
        let c = sqlx::query("DELETE FROM ceremonies WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(map_err_on("ceremonies"))?;
        tx.commit().await.map_err(map_err)?;
        Ok(s.rows_affected() + c.rows_affected())
    }

    async fn record(&self, event: AuditDraft) -> Result<AuditEvent, StoreError> {
        let tx = self.begin().await?;
        self.commit(tx, event).await
    }

    async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq DESC LIMIT $1");
        self.all(sqlx::query(&sql).bind(limit), event_of).await
    }

    async fn search_audit(
        &self,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        // Each given part adds a condition with its own numbered parameter; the values are
        // bound in the same order. Prefix and substring tests are exact and case-sensitive on
        // both databases (no LIKE as the test: its wildcards and SQLite's case folding would
        // differ). Columns are qualified: the text index below may join a second table.
        let dialect = self.dialect;
        // SQLite plans without statistics (nothing runs ANALYZE), so it cannot tell a rare
        // actor from a common outcome and may walk the outcome's index. With an actor, the
        // actor's index leads: it carries the outcome and the action (migration 0018), which
        // are tested on its entries without reading the events.
        let (outcome, action) = if filter.actor.is_some() {
            (
                dialect.not_leading("e.outcome"),
                dialect.not_leading("e.action"),
            )
        } else {
            ("e.outcome".to_owned(), "e.action".to_owned())
        };
        let parts: [(Option<&str>, &dyn Fn(&str) -> String); 7] = [
            (filter.actor.as_deref(), &|p| format!("e.actor = {p}")),
            (filter.action.as_deref(), &|p| {
                format!("substr(e.action, 1, length({p})) = {p}")
            }),
            (filter.target.as_deref(), &|p| format!("e.target = {p}")),
            (filter.outcome.map(|o| o.as_str()), &|p| {
                format!("{outcome} = {p}")
            }),
            (filter.since.as_deref(), &|p| format!("e.at >= {p}")),
            (filter.until.as_deref(), &|p| format!("e.at < {p}")),
            (filter.text.as_deref(), &|p| {
                dialect.contains("e.details", p)
            }),
        ];
        let mut conditions = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        for (value, condition) in parts {
            if let Some(v) = value {
                texts.push(v.to_owned());
                conditions.push(condition(&format!("${}", texts.len())));
            }
        }
        // A prefix is also a range (`policies.` ≤ action < `policies/`, bytewise), which the
        // action index serves; the exact test above stays the definition.
        if let Some(upper) = filter.action.as_deref().and_then(prefix_upper_bound) {
            let c = dialect.bytewise();
            let lower = texts.len() + 1;
            texts.push(filter.action.clone().unwrap_or_default());
            texts.push(upper);
            conditions.push(format!(
                "{action}{c} >= ${lower} AND {action}{c} < ${}",
                lower + 1
            ));
        }
        // A text is also looked up in the details' trigram index (migration 0017), which finds
        // every event containing it and perhaps others; the exact test above stays the
        // definition. PostgreSQL's planner weighs the `LIKE` against the other filters with its
        // statistics. SQLite's cannot (it knows nothing of how common a text is), so the choice
        // is made here. A text alone is read newest first straight from the index (its rowid is
        // `seq`), which stops after a page even when nearly every event matches. Beside another
        // filter, the index is first asked for at most `FTS_CANDIDATES` + 1 of the newest
        // events it matches: no more than that, and the search tests only those (a rare text
        // beside a common actor); more, and the other filter's index drives with the text
        // tested on its events (a common text beside a rare actor).
        let before = before_seq.unwrap_or(i64::MAX);
        let mut from = "audit_events AS e".to_owned();
        let mut key = "e.seq";
        let text_alone = AuditFilter {
            text: None,
            ..filter.clone()
        } == AuditFilter::default();
        match filter
            .text
            .as_deref()
            .and_then(|t| dialect.details_index(t))
        {
            Some(DetailsIndex::Fts5Match(phrase)) if !text_alone => {
                let candidates = self.details_candidates(&phrase, before).await?;
                if candidates.is_empty() {
                    return Ok(Vec::new());
                }
                if candidates.len() <= FTS_CANDIDATES {
                    // A JSON array of integers, which `json_each` lists.
                    let seqs: Vec<String> = candidates.iter().map(i64::to_string).collect();
                    texts.push(format!("[{}]", seqs.join(",")));
                    from = format!(
                        "json_each(${}) AS c CROSS JOIN audit_events AS e ON e.seq = c.value",
                        texts.len()
                    );
                }
            }
            Some(DetailsIndex::Fts5Match(phrase)) => {
                texts.push(phrase);
                // CROSS JOIN fixes the order: the index outside, each event looked up by seq.
                from = "audit_details_fts CROSS JOIN audit_events AS e \
                        ON e.seq = audit_details_fts.rowid"
                    .to_owned();
                key = "audit_details_fts.rowid";
                conditions.push(format!("audit_details_fts MATCH ${}", texts.len()));
            }
            Some(DetailsIndex::Like(pattern)) => {
                texts.push(pattern);
                conditions.push(format!("e.details LIKE ${}", texts.len()));
            }
            None => {}
        }
        let n = texts.len();
        let columns = EVENT_COLUMNS
            .split(", ")
            .map(|c| format!("e.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!("SELECT {columns} FROM {from} WHERE {key} < ${}", n + 1);
        for c in &conditions {
            sql.push_str(" AND ");
            sql.push_str(c);
        }
        sql.push_str(&format!(" ORDER BY {key} DESC LIMIT ${}", n + 2));
        // Not a prepared statement kept for reuse: PostgreSQL then plans each search with its
        // values (a generic plan cannot tell a rare text, best found through the index, from a
        // common one, best found by reading the newest events).
        let mut q = sqlx::query(&sql).persistent(false);
        for t in texts {
            q = q.bind(t);
        }
        q = q.bind(before).bind(limit.max(0));
        self.all(q, event_of).await
    }

    async fn verify_audit(
        &self,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<Result<i64, ChainError>, StoreError> {
        let mut verifier = ChainVerifier::new(self.chain_key(), checkpoint.cloned());
        // One statement, so one snapshot: the walk sees a consistent prefix of the chain even
        // while other writers append.
        let sql = format!("SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq");
        let mut rows = sqlx::query(&sql).fetch(&self.read);
        while let Some(row) = rows.try_next().await.map_err(map_err)? {
            let event = event_of(&row).map_err(map_err)?;
            if let Err(e) = verifier.check(&event) {
                return Ok(Err(e));
            }
        }
        Ok(verifier.finish())
    }

    async fn sealed_chain_key(&self) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT sealed_private FROM audit_chain_keys WHERE id = $1")
            .bind(domain::console::CHAIN_KEY_ID)
            .fetch_optional(&self.read)
            .await
            .map_err(map_err)
    }

    async fn key_audit_chain(
        &self,
        sealed: &[u8],
        key: ChainKey,
        event: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        let mut tx = self.begin().await?;
        let now = domain::now_ms();
        let appended =
            crate::audit::key_chain(self.dialect, &mut tx, sealed, &key, event, now).await?;
        tx.commit().await.map_err(map_err)?;
        self.use_chain_key(key);
        Ok(appended)
    }

    fn use_chain_key(&self, key: ChainKey) {
        *self
            .chain_key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key);
    }
}

/// The least string above every string that starts with `prefix`, in code point (= UTF-8 byte)
/// order: the prefix with its last character incremented; `None` when there is none to
/// increment (empty, or only U+10FFFF), where the exact test alone decides.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=0x10FFFF).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl SqlStore {
    /// SQLite: the newest events older than `before` whose details the trigram index matches
    /// with `phrase` ([`crate::db::fts5_phrase`]), at most [`FTS_CANDIDATES`] + 1 of them, newest
    /// first; one more than the cap means "too many to test one by one".
    async fn details_candidates(&self, phrase: &str, before: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT rowid FROM audit_details_fts WHERE audit_details_fts MATCH $1 AND rowid < $2 \
             ORDER BY rowid DESC LIMIT $3",
        )
        .bind(phrase)
        .bind(before)
        .bind(i64::try_from(FTS_CANDIDATES).unwrap_or(i64::MAX) + 1)
        .persistent(false)
        .fetch_all(&self.read)
        .await
        .map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn a_prefix_range_ends_just_above_every_string_with_it() {
        assert_eq!(
            prefix_upper_bound("policies.").as_deref(),
            Some("policies/")
        );
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}").as_deref(),
            Some("a\u{E000}")
        );
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound(""), None);
        for s in ["policies.", "policies.enforce", "policies.\u{10FFFF}x"] {
            assert!(s < "policies/", "{s}");
        }
    }
}
