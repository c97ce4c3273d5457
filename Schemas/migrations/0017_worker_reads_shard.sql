-- Driftless schema 17: a worker reads its shard's documents from the database.
-- Until now the coordinator read every shard's staged documents, encoded them as JSON and
-- sent them over ZeroMQ: at 1,000,000 documents that was the coordinator's largest share of
-- work while the shards ran, and every byte of text crossed it twice. A deal now carries the
-- lease only; the worker asks for the documents of the shard its lease holds.
--
-- Workers get no privilege on job_documents. They call this function, which runs as the
-- schema's owner and returns the staged rows of the shard that lease `lease` holds, in seq
-- order, and nothing once the lease is gone (lapsed, revoked, returned, or the shard was
-- committed by a copy): a worker reads only work it was dealt and still holds.
CREATE FUNCTION driftless_leased_documents(lease bigint)
RETURNS TABLE (seq integer, line integer, doc_id text, title text, body text, metadata text,
               version bigint, content_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT d.seq, d.line, d.doc_id, d.title, d.body, d.metadata, d.version, d.content_hash
    FROM shard_leases l
    JOIN shards s ON s.id = l.shard_id
    JOIN job_documents d ON d.job_id = s.job_id AND d.seq BETWEEN s.first_seq AND s.last_seq
    WHERE l.token = lease
    ORDER BY d.seq
$$;
REVOKE ALL ON FUNCTION driftless_leased_documents(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION driftless_leased_documents(bigint) TO driftless_worker;
