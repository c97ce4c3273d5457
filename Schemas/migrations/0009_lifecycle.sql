-- Driftless schema 9: an index keeps one identity through its upgrades.
--
-- A submission to an index is embedded for the generation that serves it and then copied, as a
-- follow-up job, to every other generation still alive (the successor during an upgrade, the old
-- vectors after a promotion until `coord gc`): then_index_ids lists them. The follow-up is made
-- in the transaction that finishes the job, so a restart cannot lose it.
ALTER TABLE jobs ADD COLUMN then_index_ids bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN follows_job_id bigint REFERENCES jobs (id) ON DELETE SET NULL;

-- `coord cancel`: a job stopped on purpose.
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('receiving', 'running', 'indexing', 'done', 'failed', 'cancelled'));

-- `coord delete`: a deleted document stays as a tombstone with a newer version, so a commit of
-- an older version still in flight cannot bring it (or its vector) back. A later submission of
-- the document (a newer version) revives it.
ALTER TABLE documents ADD COLUMN deleted boolean NOT NULL DEFAULT false;
GRANT UPDATE (deleted) ON documents TO driftless_worker;

-- A successor index (INDEX@MODEL) knows the index it succeeds: while a re-index fills it, submissions
-- to the index follow into it too.
ALTER TABLE indexes ADD COLUMN predecessor_id bigint REFERENCES indexes (id) ON DELETE SET NULL;
UPDATE indexes s SET predecessor_id = p.id FROM indexes p WHERE s.name LIKE p.name || '@%' AND s.id <> p.id;
