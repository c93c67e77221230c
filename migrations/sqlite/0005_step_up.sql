-- Step-up: when the session's admin last confirmed with a passkey (sensitive actions need one
-- within the last five minutes).
ALTER TABLE sessions ADD COLUMN stepped_up_at_ms INTEGER;
