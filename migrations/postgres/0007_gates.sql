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
    sealed_private   BYTEA NOT NULL,
    created_at_ms    BIGINT NOT NULL
);

CREATE TABLE gate_settings (
    id                   BIGINT PRIMARY KEY CHECK (id = 1),
    issuer               TEXT NOT NULL,
    audiences_json       TEXT NOT NULL,
    require_typ_at_jwt   BIGINT NOT NULL CHECK (require_typ_at_jwt IN (0, 1)),
    routes_json          TEXT NOT NULL,
    version              BIGINT NOT NULL CHECK (version >= 1),
    updated_at_ms        BIGINT NOT NULL
);

CREATE TABLE gates (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    labels_json           TEXT NOT NULL,
    push_url              TEXT NOT NULL,
    public_key            TEXT UNIQUE,
    enrol_token_hash      TEXT UNIQUE,
    enrol_expires_at_ms   BIGINT,
    enrolled_at_ms        BIGINT,
    revoked_at_ms         BIGINT,
    applied_version       BIGINT,
    applied_at_ms         BIGINT,
    last_seen_ms          BIGINT,
    last_error            TEXT,
    last_error_at_ms      BIGINT,
    version               BIGINT NOT NULL CHECK (version >= 1),
    created_at_ms         BIGINT NOT NULL,
    updated_at_ms         BIGINT NOT NULL,
    CHECK ((public_key IS NULL) = (enrolled_at_ms IS NULL)),
    CHECK ((enrol_token_hash IS NULL) = (enrol_expires_at_ms IS NULL))
);

CREATE TABLE bundles (
    version          BIGINT PRIMARY KEY CHECK (version >= 1),
    issued_at_ms     BIGINT NOT NULL,
    payload_sha256   TEXT NOT NULL,
    content_sha256   TEXT NOT NULL,
    envelope         TEXT NOT NULL,
    size             BIGINT NOT NULL,
    cause            TEXT NOT NULL,
    changes_json     TEXT NOT NULL
);
