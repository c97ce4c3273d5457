-- HNSW build time and size for n random 384-d unit vectors, stored as vector and as halfvec.
--   psql "$(Ops/postgres.sh url)" -v n=100000 -f Ops/hnsw-probe.sql
\timing on
SET maintenance_work_mem = '1GB';
DROP TABLE IF EXISTS hnsw_probe_v, hnsw_probe_h;
CREATE TABLE hnsw_probe_v (id int PRIMARY KEY, embedding vector(384));
ALTER TABLE hnsw_probe_v ALTER COLUMN embedding SET STORAGE PLAIN;
INSERT INTO hnsw_probe_v SELECT i, l2_normalize(ARRAY(SELECT random() - 0.5 + 0 * i FROM generate_series(1, 384))::vector) FROM generate_series(1, :n) i;
CREATE TABLE hnsw_probe_h (id int PRIMARY KEY, embedding halfvec(384));
ALTER TABLE hnsw_probe_h ALTER COLUMN embedding SET STORAGE PLAIN;
INSERT INTO hnsw_probe_h SELECT id, embedding FROM hnsw_probe_v;
SHOW max_parallel_maintenance_workers;
CREATE INDEX hnsw_probe_v_idx ON hnsw_probe_v USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
CREATE INDEX hnsw_probe_h_idx ON hnsw_probe_h USING hnsw (embedding halfvec_cosine_ops) WITH (m = 16, ef_construction = 64);
SELECT 'vector', pg_relation_size('hnsw_probe_v'), pg_relation_size('hnsw_probe_v_idx'), (SELECT avg(pg_column_size(embedding)) FROM hnsw_probe_v)
UNION ALL SELECT 'halfvec', pg_relation_size('hnsw_probe_h'), pg_relation_size('hnsw_probe_h_idx'), (SELECT avg(pg_column_size(embedding)) FROM hnsw_probe_h);
DROP TABLE hnsw_probe_v, hnsw_probe_h;
