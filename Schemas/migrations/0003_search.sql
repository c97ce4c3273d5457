-- Driftless schema 3: search. Each index keeps its HNSW parameters (used when the
-- coordinator builds the HNSW index after a job's last shard, and by `coord index build`)
-- and its default ef_search; a job whose shards are all done is 'indexing' while the
-- HNSW index is built, then 'done'.
ALTER TABLE indexes
    ADD COLUMN hnsw_m integer NOT NULL DEFAULT 16 CHECK (hnsw_m BETWEEN 2 AND 100),
    ADD COLUMN hnsw_ef_construction integer NOT NULL DEFAULT 64 CHECK (hnsw_ef_construction BETWEEN 4 AND 1000),
    ADD COLUMN ef_search integer NOT NULL DEFAULT 40 CHECK (ef_search BETWEEN 1 AND 1000),
    -- When the HNSW index now in place was built (NULL: none).
    ADD COLUMN hnsw_built_at timestamptz,
    ADD CONSTRAINT indexes_hnsw_ef_construction_2m CHECK (hnsw_ef_construction >= 2 * hnsw_m);

ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('receiving', 'running', 'indexing', 'done', 'failed'));
