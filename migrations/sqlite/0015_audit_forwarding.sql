-- Forwarding the audit log to a collector (syslog, issue 15): one row per destination with the
-- last event it was sent (at least once: the cursor moves only after the receiver took the
-- events), the last error, and which console holds the lease to send (replicas on one
-- PostgreSQL database take turns, never both at once). A new destination starts at event 0.
CREATE TABLE audit_forwarding (
    destination      TEXT PRIMARY KEY,
    sent_seq         INTEGER NOT NULL DEFAULT 0,
    sent_at_ms       INTEGER,
    last_error       TEXT,
    last_error_at_ms INTEGER,
    holder           TEXT,
    lease_until_ms   INTEGER NOT NULL DEFAULT 0,
    CHECK (sent_seq >= 0)
) STRICT;
