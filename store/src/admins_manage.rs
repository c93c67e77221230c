//! [`domain::ports::admins::AdminStore`]: invites, roles, disabling, sessions and passkeys of
//! the admins. Each change is one transaction with its audit event, and before it commits the
//! console must still have an enabled owner (else `Conflict`, nothing written).
//!
//! On PostgreSQL every change first takes [`crate::db::ADMINS_LOCK`], so two changes that are
//! each fine alone (demoting one of two owners, removing one of an admin's two passkeys) cannot
//! both pass their checks; SQLite's single writer already serialises them. The count a change
//! returns is of every row it wrote, the sessions it ended included.

use async_trait::async_trait;
use domain::admins::{Admin, Role};
use domain::audit::AuditDraft;
use domain::ports::admins::{AdminChange, AdminStore, InviteRecord};
use domain::ports::StoreError;
use domain::sessions::SessionRecord;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::admins::{insert_admin, insert_passkey, insert_session};
use crate::db::{map_err, map_err_on, SqlStore};
use crate::rows::{
    admin_of, invite_of, session_of, ADMIN_COLUMNS, INVITE_COLUMNS, SESSION_COLUMNS,
};

fn conflict(message: impl Into<String>) -> StoreError {
    StoreError::Conflict(message.into())
}

/// The role of admin `id`, or `Conflict` if there is no such admin.
async fn role_of(conn: &mut AnyConnection, id: Uuid) -> Result<Role, StoreError> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM admins WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(map_err)?;
    let role = role.ok_or_else(|| conflict("the admin does not exist (removed meanwhile?)"))?;
    Role::parse(&role).ok_or_else(|| StoreError::Other(format!("unknown role {role:?}")))
}

/// Why the invite a change named (by `id` or by `token_hash`) is not open at `now_ms`.
async fn invite_refusal(
    conn: &mut AnyConnection,
    id: Option<Uuid>,
    token_hash: Option<&str>,
    now_ms: i64,
) -> StoreError {
    let sql = format!("SELECT {INVITE_COLUMNS} FROM invites WHERE id = $1 OR token_hash = $2");
    let row = sqlx::query(&sql)
        .bind(id.map(|id| id.to_string()))
        .bind(token_hash)
        .fetch_optional(conn)
        .await;
    let invite = match row {
        Ok(row) => row.as_ref().map(invite_of).transpose(),
        Err(e) => return map_err(e),
    };
    match invite {
        Err(e) => map_err(e),
        Ok(None) => conflict("the invite does not exist"),
        Ok(Some(i)) if i.used_at_ms.is_some() => conflict("the invite has been used already"),
        Ok(Some(i)) if i.revoked_at_ms.is_some() => conflict("the invite has been revoked"),
        Ok(Some(i)) if i.expires_at_ms <= now_ms => conflict("the invite has expired"),
        Ok(Some(_)) => conflict("the invite changed meanwhile; reload and retry"),
    }
}

/// Ends every session of `admin_id`; the number ended.
async fn end_all_sessions(conn: &mut AnyConnection, admin_id: Uuid) -> Result<u64, StoreError> {
    sqlx::query("DELETE FROM sessions WHERE admin_id = $1")
        .bind(admin_id.to_string())
        .execute(conn)
        .await
        .map(|r| r.rows_affected())
        .map_err(map_err_on("sessions"))
}

/// Applies `change` inside the caller's transaction; the rows it wrote.
async fn apply(conn: &mut AnyConnection, change: &AdminChange) -> Result<u64, StoreError> {
    match change {
        AdminChange::Invite(i) => {
            let sql = format!(
                "INSERT INTO invites ({INVITE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            );
            sqlx::query(&sql)
                .bind(i.id.to_string())
                .bind(&i.token_hash)
                .bind(i.role.as_str())
                .bind(&i.label)
                .bind(&i.created_by)
                .bind(i.created_at_ms)
                .bind(i.expires_at_ms)
                .bind(i.used_at_ms)
                .bind(&i.used_by)
                .bind(i.revoked_at_ms)
                .execute(conn)
                .await
                .map(|r| r.rows_affected())
                .map_err(map_err_on("invites"))
        }
        AdminChange::RevokeInvite { id, now_ms } => {
            let revoked = sqlx::query(
                "UPDATE invites SET revoked_at_ms = $1 WHERE id = $2 \
                 AND used_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > $1",
            )
            .bind(now_ms)
            .bind(id.to_string())
            .execute(&mut *conn)
            .await
            .map_err(map_err_on("invites"))?
            .rows_affected();
            if revoked != 1 {
                return Err(invite_refusal(conn, Some(*id), None, *now_ms).await);
            }
            Ok(revoked)
        }
        AdminChange::AcceptInvite {
            token_hash,
            admin,
            passkey,
            session,
            now_ms,
        } => {
            if passkey.admin_id != admin.id || session.admin_id != admin.id {
                return Err(StoreError::Other(
                    "the passkey and the session must belong to the new admin".into(),
                ));
            }
            // Two acceptances of one invite: the second waits for the first's row lock (or for
            // SQLite's single writer), re-checks `used_at_ms IS NULL` and updates nothing.
            let role: Option<String> = sqlx::query_scalar(
                "UPDATE invites SET used_at_ms = $1, used_by = $2 WHERE token_hash = $3 \
                 AND used_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > $1 \
                 RETURNING role",
            )
            .bind(now_ms)
            .bind(&admin.username)
            .bind(token_hash)
            .fetch_optional(&mut *conn)
            .await
            .map_err(map_err_on("invites"))?;
            let Some(role) = role else {
                return Err(invite_refusal(conn, None, Some(token_hash), *now_ms).await);
            };
            let role = Role::parse(&role)
                .ok_or_else(|| StoreError::Other(format!("unknown role {role:?}")))?;
            // The invite decides the role, whatever the caller filled in.
            let admin = Admin {
                role,
                ..(**admin).clone()
            };
            insert_admin(conn, &admin).await?;
            insert_passkey(conn, passkey).await?;
            insert_session(conn, session).await?;
            Ok(4)
        }
        AdminChange::SetRole { admin_id, from, to } => {
            let changed = sqlx::query("UPDATE admins SET role = $1 WHERE id = $2 AND role = $3")
                .bind(to.as_str())
                .bind(admin_id.to_string())
                .bind(from.as_str())
                .execute(&mut *conn)
                .await
                .map_err(map_err_on("admins"))?
                .rows_affected();
            if changed != 1 {
                let now = role_of(conn, *admin_id).await?;
                return Err(conflict(format!(
                    "the admin's role was changed meanwhile (now {}); reload and retry",
                    now.as_str()
                )));
            }
            Ok(changed + end_all_sessions(conn, *admin_id).await?)
        }
        AdminChange::SetDisabled { admin_id, disabled } => {
            let changed = sqlx::query("UPDATE admins SET disabled = $1 WHERE id = $2")
                .bind(i64::from(*disabled))
                .bind(admin_id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(map_err_on("admins"))?
                .rows_affected();
            if changed != 1 {
                return Err(conflict("the admin does not exist (removed meanwhile?)"));
            }
            let ended = if *disabled {
                end_all_sessions(conn, *admin_id).await?
            } else {
                0
            };
            Ok(changed + ended)
        }
        AdminChange::EndSessions {
            admin_id,
            only,
            keep,
        } => {
            role_of(&mut *conn, *admin_id).await?;
            sqlx::query(
                "DELETE FROM sessions WHERE admin_id = $1 \
                 AND ($2 IS NULL OR id_hash = $2) AND ($3 IS NULL OR id_hash <> $3)",
            )
            .bind(admin_id.to_string())
            .bind(only)
            .bind(keep)
            .execute(conn)
            .await
            .map(|r| r.rows_affected())
            .map_err(map_err_on("sessions"))
        }
        AdminChange::AddPasskey(p) => {
            role_of(&mut *conn, p.admin_id).await?;
            insert_passkey(conn, p).await?;
            Ok(1)
        }
        AdminChange::RenamePasskey { admin_id, id, name } => {
            let renamed =
                sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND admin_id = $3")
                    .bind(name)
                    .bind(id.to_string())
                    .bind(admin_id.to_string())
                    .execute(conn)
                    .await
                    .map_err(map_err_on("passkeys"))?
                    .rows_affected();
            if renamed != 1 {
                return Err(conflict("the passkey does not exist (removed meanwhile?)"));
            }
            Ok(renamed)
        }
        AdminChange::RevokePasskey { admin_id, id } => {
            let removed = sqlx::query(
                "DELETE FROM passkeys WHERE id = $1 AND admin_id = $2 AND EXISTS \
                 (SELECT 1 FROM passkeys other WHERE other.admin_id = $2 AND other.id <> $1)",
            )
            .bind(id.to_string())
            .bind(admin_id.to_string())
            .execute(&mut *conn)
            .await
            .map_err(map_err_on("passkeys"))?
            .rows_affected();
            if removed == 1 {
                return Ok(removed);
            }
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM passkeys WHERE id = $1 AND admin_id = $2")
                    .bind(id.to_string())
                    .bind(admin_id.to_string())
                    .fetch_optional(conn)
                    .await
                    .map_err(map_err)?;
            Err(conflict(match exists {
                Some(_) => "this is the admin's last passkey; add another one before removing it",
                None => "the passkey does not exist (removed meanwhile?)",
            }))
        }
    }
}

/// `Conflict` unless an enabled owner remains: nobody could manage owners or end their
/// sessions any more, and only a new setup link (shell access to the server) would recover.
async fn an_enabled_owner_remains(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let owners: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM admins WHERE role = 'owner' AND disabled = 0")
            .fetch_one(conn)
            .await
            .map_err(map_err)?;
    if owners == 0 {
        return Err(conflict(
            "the console must keep at least one enabled owner: make another admin an owner first",
        ));
    }
    Ok(())
}

#[async_trait]
impl AdminStore for SqlStore {
    async fn admins(&self) -> Result<Vec<Admin>, StoreError> {
        let sql = format!(
            "SELECT {ADMIN_COLUMNS} FROM admins ORDER BY username{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), admin_of).await
    }

    async fn invites(&self, limit: i64) -> Result<Vec<InviteRecord>, StoreError> {
        let sql = format!(
            "SELECT {INVITE_COLUMNS} FROM invites ORDER BY created_at_ms DESC, id{} DESC LIMIT $1",
            self.dialect.bytewise()
        );
        // A negative LIMIT is "no limit" on SQLite and an error on PostgreSQL.
        self.all(sqlx::query(&sql).bind(limit.max(0)), invite_of)
            .await
    }

    async fn invite_by_token(&self, token_hash: &str) -> Result<Option<InviteRecord>, StoreError> {
        let sql = format!("SELECT {INVITE_COLUMNS} FROM invites WHERE token_hash = $1");
        self.one(sqlx::query(&sql).bind(token_hash), invite_of)
            .await
    }

    async fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY created_at_ms DESC, id_hash{}",
            self.dialect.bytewise()
        );
        self.all(sqlx::query(&sql), session_of).await
    }

    async fn apply_admin_change(
        &self,
        change: &AdminChange,
        event: AuditDraft,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        self.dialect
            .lock_admins(&mut tx)
            .await
            .map_err(map_err_on("admins"))?;
        let touched = apply(&mut tx, change).await?;
        an_enabled_owner_remains(&mut tx).await?;
        self.commit(tx, event).await?;
        Ok(touched)
    }
}
