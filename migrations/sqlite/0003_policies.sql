-- Rate-limit policies (issue #5). The policy itself is stored as the JSON of `policy::Policy`
-- (the wire model the gate runs); name, position, enabled and mode are columns for ordering and
-- listing. `version` increases on every change (optimistic concurrency).

CREATE TABLE policies (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    position      INTEGER NOT NULL,
    enabled       INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    mode          TEXT NOT NULL CHECK (mode IN ('shadow', 'enforce')),
    spec_json     TEXT NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX policies_position ON policies (position);
