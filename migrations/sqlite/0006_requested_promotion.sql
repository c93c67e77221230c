-- A manual rotation ("Rotate now") asks its next key to take over at this instant: the end of
-- its cache window. The rotation job promotes it then, whatever the rotation period.
ALTER TABLE signing_keys ADD COLUMN promote_at_ms INTEGER;
