-- Gates that issue tokens (issue #12, item 1).
--
-- A gate registers an X25519 public key (unpadded base64url of 32 bytes) at enrolment or in a
-- signed status report; the console seals the private material a gate needs (the token key
-- set's active signing key) to that key on every delivery. NULL: an older gate, which receives
-- bundles without private material.
--
-- The gate settings name the key set whose active key signs the access tokens gates issue
-- (by the set's id, so a renamed set stays chosen; the bundle carries its name). NULL: gates
-- issue no tokens.
--
-- Gates report how many tokens they issued to each client since their previous report; the
-- console keeps the running total and the time of the report that counted the last one.
-- Secrets already have `last_used_at_ms`. Usage is telemetry, not a change by anyone: it is
-- written without an audit event.

ALTER TABLE gates ADD COLUMN encryption_key TEXT;

ALTER TABLE gate_settings ADD COLUMN token_key_set_id TEXT REFERENCES key_sets (id);

CREATE TABLE client_usage (
    client_row_id     TEXT PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    tokens_issued     INTEGER NOT NULL CHECK (tokens_issued >= 0),
    last_token_at_ms  INTEGER
) STRICT;
