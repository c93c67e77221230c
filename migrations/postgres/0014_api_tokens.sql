-- Tokens for the REST API (/api/v1), created by an admin with scopes and an expiry, shown once.
-- Only the SHA-256 of the token is kept (256 random bits: no stretching needed); a revoked or
-- expired token stays listed, with when it was last used and from where.
CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    scopes          TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    revoked_at_ms   BIGINT,
    last_used_at_ms BIGINT,
    last_used_ip    TEXT,
    CHECK (expires_at_ms > created_at_ms)
);
CREATE INDEX api_tokens_created ON api_tokens (created_at_ms);
