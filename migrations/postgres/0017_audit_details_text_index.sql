-- The audit explorer's "text in the details" filter (issue 15) over a large log: a trigram
-- index of `details` (pg_trgm, shipped with PostgreSQL and a trusted extension), so that a text
-- of three characters or more finds its events without reading every event. The explorer asks
-- `details LIKE '%text%'` (wildcards escaped), which this index serves, and still tests every
-- event with `strpos`: the exact, case-sensitive test stays the definition
-- (`SqlStore::search_audit`). pg_trgm folds case and skips punctuation, so the index narrows and
-- the test decides.
--
-- Creating the extension needs CREATE on the database. A console whose role lacks it (or a
-- server built without the contrib modules) still starts: the index is skipped with a warning in
-- PostgreSQL's log, every search gives the same answers, and a text search reads the events as
-- before. An administrator adds it later with the two statements below (README, "PostgreSQL").
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX audit_events_details_trgm ON audit_events USING gin (details gin_trgm_ops);
EXCEPTION
    WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
        RAISE WARNING 'palisade: no trigram index on the audit details (%); text searches read every event', SQLERRM;
END
$$;
