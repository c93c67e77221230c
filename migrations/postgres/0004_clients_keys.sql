-- OAuth clients and JWT signing keys (issue #4).
--
-- Client secrets are stored only as Argon2id PHC strings; the secret itself is shown once and
-- never stored. Signing keys keep their private half sealed (AES-256-GCM under the master key,
-- AAD = the key's id) until they leave the JWKS (removed or revoked), when it is erased.
-- Exactly one active and at most one next key per set: partial unique indexes, so no code path
-- and no crash (and no second console replica) can leave two.
-- Mirrors migrations/sqlite/0004_clients_keys.sql.

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    client_id                 TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL UNIQUE,
    description               TEXT NOT NULL,
    kind                      TEXT NOT NULL CHECK (kind IN ('native', 'service', 'web')),
    platform                  TEXT NOT NULL,
    redirect_uris_json        TEXT NOT NULL,
    grant_types_json          TEXT NOT NULL,
    scopes_json               TEXT NOT NULL,
    access_token_lifetime_s   BIGINT NOT NULL CHECK (access_token_lifetime_s BETWEEN 60 AND 86400),
    auth_method               TEXT NOT NULL CHECK (auth_method IN
                                ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none')),
    jwks_json                 TEXT,
    policy_id                 TEXT REFERENCES policies (id) ON DELETE RESTRICT,
    enabled                   BIGINT NOT NULL CHECK (enabled IN (0, 1)),
    version                   BIGINT NOT NULL CHECK (version >= 1),
    created_at_ms             BIGINT NOT NULL,
    updated_at_ms             BIGINT NOT NULL,
    CHECK ((kind = 'native') = (auth_method = 'none')),
    CHECK ((auth_method = 'private_key_jwt') = (jwks_json IS NOT NULL))
);
CREATE INDEX clients_policy ON clients (policy_id);

CREATE TABLE client_secrets (
    id               TEXT PRIMARY KEY,
    client_row_id    TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    phc_hash         TEXT NOT NULL,
    hint             TEXT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    expires_at_ms    BIGINT,
    last_used_at_ms  BIGINT,
    revoked_at_ms    BIGINT
);
CREATE INDEX client_secrets_client ON client_secrets (client_row_id);

CREATE TABLE key_sets (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    alg                   TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256', 'RS256')),
    rotation_period_s     BIGINT NOT NULL,
    cache_window_s        BIGINT NOT NULL,
    max_token_lifetime_s  BIGINT NOT NULL,
    leeway_s              BIGINT NOT NULL,
    auto_rotate           BIGINT NOT NULL CHECK (auto_rotate IN (0, 1)),
    version               BIGINT NOT NULL CHECK (version >= 1),
    created_at_ms         BIGINT NOT NULL,
    updated_at_ms         BIGINT NOT NULL,
    CHECK (rotation_period_s > cache_window_s)
);

CREATE TABLE signing_keys (
    id               TEXT PRIMARY KEY,
    set_id           TEXT NOT NULL REFERENCES key_sets (id) ON DELETE RESTRICT,
    kid              TEXT NOT NULL UNIQUE,
    alg              TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256', 'RS256')),
    state            TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired', 'removed', 'revoked')),
    public_jwk_json  TEXT NOT NULL,
    sealed_private   BYTEA,
    created_at_ms    BIGINT NOT NULL,
    activated_at_ms  BIGINT,
    retired_at_ms    BIGINT,
    removed_at_ms    BIGINT,
    revoked_at_ms    BIGINT,
    revoke_reason    TEXT,
    -- A published key can sign or has signed; only keys out of the JWKS lose their private half.
    CHECK ((state IN ('next', 'active', 'retired')) = (sealed_private IS NOT NULL)),
    CHECK (state <> 'active' OR activated_at_ms IS NOT NULL),
    CHECK (state <> 'retired' OR retired_at_ms IS NOT NULL)
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (set_id) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (set_id) WHERE state = 'next';
CREATE INDEX signing_keys_set ON signing_keys (set_id, created_at_ms);
