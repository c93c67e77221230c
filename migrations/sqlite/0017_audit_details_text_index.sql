-- The audit explorer's "text in the details" filter (issue 15) over a large log: a trigram
-- index of `details`, so that a text of three characters or more finds its events without
-- reading every event (`make bench-audit`: 334 ms over a million events as a scan). FTS5 with
-- the trigram tokenizer, case-sensitive like the filter; contentless (it keeps only the index,
-- keyed by `seq` as its rowid, not a second copy of the details). The explorer still tests
-- every event it returns with `instr`, so the index only narrows: the exact test stays the
-- definition (`SqlStore::search_audit`). Texts of one or two characters have no trigram and
-- are still a scan.
CREATE VIRTUAL TABLE audit_details_fts USING fts5(
    details,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram case_sensitive 1'
);

-- The events already written, then every event as it is appended, in the same transaction.
INSERT INTO audit_details_fts (rowid, details) SELECT seq, details FROM audit_events;

CREATE TRIGGER audit_details_fts_append AFTER INSERT ON audit_events
BEGIN
    INSERT INTO audit_details_fts (rowid, details) VALUES (new.seq, new.details);
END;

-- The log is append-only (0001's triggers refuse UPDATE and DELETE, and nothing in the console
-- edits or prunes it), so these two run only where someone with the file dropped those triggers
-- first. They keep the index in step with the table even then; the hash chain is what reports
-- the tampering (`palisade audit verify`).
CREATE TRIGGER audit_details_fts_delete AFTER DELETE ON audit_events
BEGIN
    DELETE FROM audit_details_fts WHERE rowid = old.seq;
END;
CREATE TRIGGER audit_details_fts_update AFTER UPDATE OF seq, details ON audit_events
BEGIN
    DELETE FROM audit_details_fts WHERE rowid = old.seq;
    INSERT INTO audit_details_fts (rowid, details) VALUES (new.seq, new.details);
END;
