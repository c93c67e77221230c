-- Palisade console schema, version 1: admins, passkeys, sessions, ceremonies, setup links and
-- the audit chain. Instants are Unix milliseconds except audit times (RFC 3339 UTC text).
--
-- Mirrors migrations/sqlite/0001_init.sql table for table and column for column: SQLite
-- INTEGER is BIGINT, flags stay 0/1 integers so both adapters map rows the same way.

CREATE TABLE admins (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'operator', 'auditor')),
    disabled      BIGINT NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE passkeys (
    id              TEXT PRIMARY KEY,
    admin_id        TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    credential_id   TEXT NOT NULL UNIQUE,
    passkey_json    TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    last_used_at_ms BIGINT
);
CREATE INDEX passkeys_admin ON passkeys (admin_id);

CREATE TABLE sessions (
    id_hash         TEXT PRIMARY KEY,
    admin_id        TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at_ms   BIGINT NOT NULL,
    last_seen_at_ms BIGINT NOT NULL,
    ip              TEXT,
    user_agent      TEXT
);
CREATE INDEX sessions_admin ON sessions (admin_id);

CREATE TABLE ceremonies (
    id_hash       TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    state_json    TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

CREATE TABLE setup_tokens (
    token_hash    TEXT PRIMARY KEY,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms    BIGINT
);

-- `seq` is assigned by the application (previous + 1) while it holds the audit advisory lock,
-- exactly as on SQLite; it is not an identity column.
CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    details    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE
);

-- The chain is append-only through the application. Someone with owner rights can drop these
-- triggers; the hash chain is what detects that (`palisade audit verify`). TRUNCATE bypasses
-- row triggers in PostgreSQL, so it gets its own statement trigger.
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
