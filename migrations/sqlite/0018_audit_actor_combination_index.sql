-- The audit explorer's actor filter combined with an outcome or an action (issue 15): the
-- actor's index also carries both, so a combination that matches few of the actor's events
-- reads the actor's index entries only, not each of the actor's events (`make bench-audit`:
-- 59 ms for a few-match actor + outcome + action prefix over a million events, reading every
-- event of the actor). It replaces 0016's `(actor, seq)`, which it serves as well: same order,
-- one index to update per append as before.
DROP INDEX audit_events_actor;
CREATE INDEX audit_events_actor_outcome_action ON audit_events (actor, seq, outcome, action);
