-- Certificates, keys, hostnames, pin sets, apps and their releases (issue #3).
-- Private keys are stored only sealed (AES-256-GCM under the master key, AAD = the key's id).
-- Mirrors migrations/sqlite/0002_certs_pinsets.sql (BLOB is BYTEA, INTEGER is BIGINT).

CREATE TABLE tls_keys (
    id             TEXT PRIMARY KEY,
    key_type       TEXT NOT NULL,
    spki_der       BYTEA NOT NULL,
    pin            TEXT NOT NULL,
    sealed_private BYTEA,           -- NULL when the private key is held elsewhere (imported without key)
    created_at_ms  BIGINT NOT NULL
);
CREATE INDEX tls_keys_pin ON tls_keys (pin);

CREATE TABLE certificates (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('root_ca', 'intermediate_ca', 'server', 'imported')),
    hostname      TEXT,
    subject       TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    sans_json     TEXT NOT NULL,
    serial_hex    TEXT NOT NULL,
    key_type      TEXT NOT NULL,
    not_before    TEXT NOT NULL,
    not_after     TEXT NOT NULL,
    spki_pin      TEXT NOT NULL,
    cert_sha256   TEXT NOT NULL,
    cert_pem      TEXT NOT NULL,
    chain_pem     TEXT NOT NULL,    -- leaf first, then issuers (without the root for issued certs)
    key_id        TEXT REFERENCES tls_keys (id),
    issuer_id     TEXT REFERENCES certificates (id),
    status        TEXT NOT NULL CHECK (status IN ('active', 'superseded')),
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX certificates_hostname ON certificates (hostname);

-- One row per hostname the console serves: its current certificate and the pre-generated next
-- key whose pin ships in apps before the certificate changes.
CREATE TABLE hostnames (
    hostname        TEXT PRIMARY KEY,
    ca_id           TEXT REFERENCES certificates (id),
    current_cert_id TEXT REFERENCES certificates (id),
    next_key_id     TEXT REFERENCES tls_keys (id),
    created_at_ms   BIGINT NOT NULL
);

CREATE TABLE csrs (
    id            TEXT PRIMARY KEY,
    hostname      TEXT NOT NULL REFERENCES hostnames (hostname),
    key_id        TEXT NOT NULL REFERENCES tls_keys (id),
    csr_pem       TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    fulfilled_by  TEXT REFERENCES certificates (id)
);

CREATE TABLE pinsets (
    hostname           TEXT PRIMARY KEY REFERENCES hostnames (hostname),
    include_subdomains BIGINT NOT NULL CHECK (include_subdomains IN (0, 1)),
    expires_on         TEXT NOT NULL,
    version            BIGINT NOT NULL CHECK (version >= 1),
    pins_json          TEXT NOT NULL,
    updated_at_ms      BIGINT NOT NULL
);

CREATE TABLE apps (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    platform      TEXT NOT NULL CHECK (platform IN ('android', 'ios')),
    bundle_id     TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (platform, bundle_id)
);

CREATE TABLE app_releases (
    id             TEXT PRIMARY KEY,
    app_id         TEXT NOT NULL REFERENCES apps (id),
    version        TEXT NOT NULL,
    released_on    TEXT NOT NULL,
    hostname       TEXT NOT NULL,
    pinset_version BIGINT NOT NULL,
    pinset_json    TEXT NOT NULL,   -- the exact pin set shipped (pins, subdomains, expiry)
    export_format  TEXT NOT NULL,
    supported      BIGINT NOT NULL DEFAULT 1 CHECK (supported IN (0, 1)),
    created_at_ms  BIGINT NOT NULL,
    UNIQUE (app_id, version, hostname)
);
