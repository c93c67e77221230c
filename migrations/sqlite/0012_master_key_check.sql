-- A check value sealed under the master key (issue #13, item 5): a console whose key does not
-- open it refuses to start instead of sealing new values under another key; it is re-sealed
-- with every other value by `palisade keys rewrap`.

CREATE TABLE master_key_checks (
    id              TEXT PRIMARY KEY,
    sealed_private  BLOB NOT NULL,
    created_at_ms   INTEGER NOT NULL
) STRICT;
