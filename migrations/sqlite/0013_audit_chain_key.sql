-- The audit chain's key (issue #13, item 6): a random HMAC-SHA256 key sealed under the master
-- key. From the event that keys the chain (action `audit.chain_keyed`) on, every event's hash
-- is a MAC under it, so a database writer without the master key cannot rewrite the log. It is
-- re-sealed with every other value by `palisade keys rewrap`.

CREATE TABLE audit_chain_keys (
    id              TEXT PRIMARY KEY,
    sealed_private  BLOB NOT NULL,
    created_at_ms   INTEGER NOT NULL
) STRICT;
