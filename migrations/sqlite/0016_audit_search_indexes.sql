-- The audit explorer over a large log (issue 15): each filter it offers finds its newest events
-- through an index instead of scanning the table (measured by `make bench-audit`: over a million
-- events a rare actor took 200 ms without these). Every index ends in `seq`, so the newest
-- matching events come first; the action index serves a prefix as a range.
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_target ON audit_events (target, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_outcome ON audit_events (outcome, seq);
CREATE INDEX audit_events_at ON audit_events (at);
