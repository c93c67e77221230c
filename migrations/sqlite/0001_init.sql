-- Palisade console schema, version 1: admins, passkeys, sessions, ceremonies, setup links and
-- the audit chain. Instants are Unix milliseconds except audit times (RFC 3339 UTC text).

CREATE TABLE admins (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'operator', 'auditor')),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE passkeys (
    id              TEXT PRIMARY KEY,
    admin_id        TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    credential_id   TEXT NOT NULL UNIQUE,
    passkey_json    TEXT NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    last_used_at_ms INTEGER
) STRICT;
CREATE INDEX passkeys_admin ON passkeys (admin_id);

CREATE TABLE sessions (
    id_hash         TEXT PRIMARY KEY,
    admin_id        TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at_ms   INTEGER NOT NULL,
    last_seen_at_ms INTEGER NOT NULL,
    ip              TEXT,
    user_agent      TEXT
) STRICT;
CREATE INDEX sessions_admin ON sessions (admin_id);

CREATE TABLE ceremonies (
    id_hash       TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    state_json    TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE setup_tokens (
    token_hash    TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms    INTEGER
) STRICT;

CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,
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
) STRICT;

-- The chain is append-only through the application. Someone with file access can drop these
-- triggers; the hash chain is what detects that (`palisade audit verify`).
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
