-- Rate-limit policies (issue #5). The policy itself is stored as the JSON of `policy::Policy`
-- (the wire model the gate runs); name, position, enabled and mode are columns for ordering and
-- listing. `version` increases on every change (optimistic concurrency).
-- Mirrors migrations/sqlite/0003_policies.sql.

CREATE TABLE policies (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    position      BIGINT NOT NULL,
    enabled       BIGINT NOT NULL CHECK (enabled IN (0, 1)),
    mode          TEXT NOT NULL CHECK (mode IN ('shadow', 'enforce')),
    spec_json     TEXT NOT NULL,
    version       BIGINT NOT NULL CHECK (version >= 1),
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX policies_position ON policies (position);
