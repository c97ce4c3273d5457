-- Driftless schema 8: the newest version of a document wins, and every commit is counted.
--
-- Each staged document takes a number from one sequence when it is staged (its submission
-- order across all jobs). A commit writes a document and its vector only over an older
-- version (or the same one), so when two running jobs carry different versions of one
-- document, the later submission stays whatever order their shards commit in.
-- Each vector row counts the commits that wrote it: after one job, every row has 1, so a
-- second, unfenced commit of a shard is visible (doc_id is a primary key and cannot repeat).

CREATE SEQUENCE document_versions;
ALTER TABLE job_documents ADD COLUMN version bigint NOT NULL DEFAULT nextval('document_versions');
ALTER TABLE documents ADD COLUMN version bigint NOT NULL DEFAULT 0;
GRANT UPDATE (version) ON documents TO driftless_worker;

-- Existing vector tables; the catalog creates new ones with both columns.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT vector_table FROM indexes LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0', t);
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS commits integer NOT NULL DEFAULT 1', t);
    END LOOP;
END
$$;
