-- Gates (the enforcement nodes), their enrolment, the console's bundle signer, the gate-wide
-- settings and every published config bundle (issue #10).
--
-- A gate is added by an admin with a one-time enrolment token (only its SHA-256 is stored; it
-- expires after an hour and is cleared when used). Enrolment registers the gate's Ed25519
-- public key; from then on every call of the gate is signed with it. Bundles are immutable
-- once written: one row per version, the signed envelope exactly as sent to the gates.

CREATE TABLE bundle_signers (
    id               TEXT PRIMARY KEY,
    console_id       TEXT NOT NULL,
    public_key       TEXT NOT NULL,
    sealed_private   BLOB NOT NULL,
    created_at_ms    INTEGER NOT NULL
) STRICT;

CREATE TABLE gate_settings (
    id                   INTEGER PRIMARY KEY CHECK (id = 1),
    issuer               TEXT NOT NULL,
    audiences_json       TEXT NOT NULL,
    require_typ_at_jwt   INTEGER NOT NULL CHECK (require_typ_at_jwt IN (0, 1)),
    routes_json          TEXT NOT NULL,
    version              INTEGER NOT NULL CHECK (version >= 1),
    updated_at_ms        INTEGER NOT NULL
) STRICT;

CREATE TABLE gates (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    labels_json           TEXT NOT NULL,
    push_url              TEXT NOT NULL,
    public_key            TEXT UNIQUE,
    enrol_token_hash      TEXT UNIQUE,
    enrol_expires_at_ms   INTEGER,
    enrolled_at_ms        INTEGER,
    revoked_at_ms         INTEGER,
    applied_version       INTEGER,
    applied_at_ms         INTEGER,
    last_seen_ms          INTEGER,
    last_error            TEXT,
    last_error_at_ms      INTEGER,
    version               INTEGER NOT NULL CHECK (version >= 1),
    created_at_ms         INTEGER NOT NULL,
    updated_at_ms         INTEGER NOT NULL,
    CHECK ((public_key IS NULL) = (enrolled_at_ms IS NULL)),
    CHECK ((enrol_token_hash IS NULL) = (enrol_expires_at_ms IS NULL))
) STRICT;

CREATE TABLE bundles (
    version          INTEGER PRIMARY KEY CHECK (version >= 1),
    issued_at_ms     INTEGER NOT NULL,
    payload_sha256   TEXT NOT NULL,
    content_sha256   TEXT NOT NULL,
    envelope         TEXT NOT NULL,
    size             INTEGER NOT NULL,
    cause            TEXT NOT NULL,
    changes_json     TEXT NOT NULL
) STRICT;
