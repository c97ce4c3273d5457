-- Driftless schema 7: least privilege. The coordinator's role (the one that runs these
-- migrations) owns the schema. Workers connect as a member of driftless_worker: it may
-- write documents and vectors only for shards that hold a lease, of the leased shard's own
-- index, and mark those shards done; no DDL, no other table. Query commands may connect as
-- a member of driftless_reader: read only. Both roles are made NOLOGIN here if missing (roles
-- belong to the server, not to one database); Ops/postgres.sh gives them a login and a
-- password, an operator does the same with `ALTER ROLE … LOGIN PASSWORD …` or GRANTs them.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'driftless_worker') THEN
        CREATE ROLE driftless_worker NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'driftless_reader') THEN
        CREATE ROLE driftless_reader NOLOGIN;
    END IF;
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO driftless_worker, driftless_reader;

-- Readers: every table, now and later.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO driftless_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO driftless_reader;

-- Workers read what a commit checks, and write only what a commit writes.
GRANT SELECT ON shards, shard_leases, jobs, indexes, documents TO driftless_worker;
GRANT INSERT, UPDATE (title, body, metadata, content_hash, updated_at) ON documents TO driftless_worker;
GRANT UPDATE (state, worker, finished_at) ON shards TO driftless_worker;
GRANT DELETE ON shard_leases TO driftless_worker;

-- Row security: the owner (the coordinator) is not subject to it; the two roles are.
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
CREATE POLICY documents_read ON documents FOR SELECT TO driftless_worker, driftless_reader USING (true);
-- A document may be written only into the collection of an index that has a leased shard.
CREATE POLICY documents_insert ON documents FOR INSERT TO driftless_worker
    WITH CHECK (collection_id IN (
        SELECT i.collection_id FROM shard_leases l JOIN shards s ON s.id = l.shard_id
        JOIN jobs j ON j.id = s.job_id JOIN indexes i ON i.id = j.index_id));
CREATE POLICY documents_update ON documents FOR UPDATE TO driftless_worker
    USING (collection_id IN (
        SELECT i.collection_id FROM shard_leases l JOIN shards s ON s.id = l.shard_id
        JOIN jobs j ON j.id = s.job_id JOIN indexes i ON i.id = j.index_id))
    WITH CHECK (collection_id IN (
        SELECT i.collection_id FROM shard_leases l JOIN shards s ON s.id = l.shard_id
        JOIN jobs j ON j.id = s.job_id JOIN indexes i ON i.id = j.index_id));

ALTER TABLE shards ENABLE ROW LEVEL SECURITY;
CREATE POLICY shards_read ON shards FOR SELECT TO driftless_worker, driftless_reader USING (true);
-- Only a leased shard that still holds a lease can be marked, and only as done.
CREATE POLICY shards_done ON shards FOR UPDATE TO driftless_worker
    USING (state = 'leased' AND EXISTS (SELECT 1 FROM shard_leases l WHERE l.shard_id = shards.id))
    WITH CHECK (state = 'done');

ALTER TABLE shard_leases ENABLE ROW LEVEL SECURITY;
CREATE POLICY shard_leases_read ON shard_leases FOR SELECT TO driftless_worker, driftless_reader USING (true);
-- The leases of a shard the worker just marked done (in the same transaction).
CREATE POLICY shard_leases_release ON shard_leases FOR DELETE TO driftless_worker
    USING (EXISTS (SELECT 1 FROM shards s WHERE s.id = shard_leases.shard_id AND s.state = 'done'));

-- An index's vector table: workers insert and update rows only for a leased shard of that
-- same index (so a worker holding a lease of index A cannot write index B's vectors).
-- Called for every vector table: here for those that exist, by the catalog for new ones.
CREATE FUNCTION driftless_protect_vector_table(vector_table text, index_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    leased text := format(
        'EXISTS (SELECT 1 FROM shard_leases l JOIN shards s ON s.id = l.shard_id JOIN jobs j ON j.id = s.job_id '
        'WHERE l.shard_id = %I.shard_id AND j.index_id = %s)', vector_table, index_id);
BEGIN
    EXECUTE format('GRANT SELECT ON %I TO driftless_reader', vector_table);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %I TO driftless_worker', vector_table);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', vector_table);
    EXECUTE format('DROP POLICY IF EXISTS vectors_read ON %I', vector_table);
    EXECUTE format('DROP POLICY IF EXISTS vectors_insert ON %I', vector_table);
    EXECUTE format('DROP POLICY IF EXISTS vectors_update ON %I', vector_table);
    EXECUTE format('CREATE POLICY vectors_read ON %I FOR SELECT TO driftless_worker, driftless_reader USING (true)',
        vector_table);
    EXECUTE format('CREATE POLICY vectors_insert ON %I FOR INSERT TO driftless_worker WITH CHECK (%s)',
        vector_table, leased);
    -- Any existing row may be replaced (a changed document's upsert meets its old row, whose
    -- shard is long done), but only by a row of a leased shard of this index.
    EXECUTE format('CREATE POLICY vectors_update ON %I FOR UPDATE TO driftless_worker USING (true) WITH CHECK (%s)',
        vector_table, leased);
END
$$;
REVOKE ALL ON FUNCTION driftless_protect_vector_table(text, bigint) FROM PUBLIC;

SELECT driftless_protect_vector_table(vector_table, id) FROM indexes;
