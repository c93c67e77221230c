-- Managing admins: one-time invites, and what the Admins page shows of each passkey.
--
-- An invite is created by an owner or admin for one role; only the SHA-256 of the token in its
-- link is stored. It works once (`used_at_ms`, `used_by` the username it created), before
-- `expires_at_ms`, unless revoked. `created_by` and `used_by` are usernames, not references:
-- the invite stays readable whatever happens to either admin later.
--
-- Passkeys gain the admin's name for them, the authenticator model's AAGUID when the
-- registration told us, and the signature counter of the last accepted assertion (WebAuthn L3
-- §6.1.1: a counter that does not move forward may mean a cloned authenticator). Existing
-- passkeys start at 0, so their next assertion is accepted whatever counter it carries.
--
-- Mirrors migrations/sqlite/0008_admins.sql column for column (SQLite INTEGER is BIGINT).

CREATE TABLE invites (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'operator', 'auditor')),
    label           TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    used_at_ms      BIGINT,
    used_by         TEXT,
    revoked_at_ms   BIGINT,
    CHECK ((used_at_ms IS NULL) = (used_by IS NULL))
);
CREATE INDEX invites_created ON invites (created_at_ms);

ALTER TABLE passkeys ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE passkeys ADD COLUMN aaguid TEXT;
ALTER TABLE passkeys ADD COLUMN sign_count BIGINT NOT NULL DEFAULT 0 CHECK (sign_count >= 0);
