-- Driftless schema 18: a worker's read of its shard goes through job_documents' primary key.
-- 0017's function joined the lease to the shard and the shard to job_documents in one query.
-- Planned without the shard's seq range (it comes from the join), PostgreSQL expected a ninth
-- of a job's staged rows and, at 10,000,000 of them, read all of job_documents (a parallel
-- sequential scan of 16 GB) for every 512-document shard: 6 s a shard instead of
-- milliseconds. The range is now read first, and the staged rows are asked for with it as
-- values (a custom plan each call), so the plan is a range scan of (job_id, seq) whatever the
-- table's size. Same results, same privileges.
CREATE OR REPLACE FUNCTION driftless_leased_documents(lease bigint)
RETURNS TABLE (seq integer, line integer, doc_id text, title text, body text, metadata text,
               version bigint, content_hash text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
SET plan_cache_mode = force_custom_plan AS $$
#variable_conflict use_column
DECLARE
    shard_job bigint;
    range_first integer;
    range_last integer;
BEGIN
    SELECT s.job_id, s.first_seq, s.last_seq INTO shard_job, range_first, range_last
    FROM shard_leases l JOIN shards s ON s.id = l.shard_id
    WHERE l.token = lease;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT d.seq, d.line, d.doc_id, d.title, d.body, d.metadata::text, d.version, d.content_hash
        FROM job_documents d
        WHERE d.job_id = shard_job AND d.seq BETWEEN range_first AND range_last
        ORDER BY d.seq;
END
$$;
REVOKE ALL ON FUNCTION driftless_leased_documents(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION driftless_leased_documents(bigint) TO driftless_worker;
