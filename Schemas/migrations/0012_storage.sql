-- Driftless schema 12: how an index stores its vectors.
--   vector   4 bytes a dimension (the default, exact)
--   halfvec  2 bytes a dimension (pgvector's half precision: half the table and HNSW graph)
ALTER TABLE indexes ADD COLUMN storage text NOT NULL DEFAULT 'vector'
    CHECK (storage IN ('vector', 'halfvec'));

-- Vectors stay in their row (STORAGE PLAIN), not out of line in TOAST: pgvector's types default
-- to EXTERNAL, which moves a 768-d vector (3 KB) out of line, so an exact search reads two
-- places per row. A row must then fit a page: only where the vector takes at most 6,000 bytes.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT i.vector_table, m.dimension FROM indexes i JOIN models m ON m.id = i.model_id LOOP
        IF t.dimension * 4 <= 6000 AND to_regclass(t.vector_table) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN embedding SET STORAGE PLAIN', t.vector_table);
        END IF;
    END LOOP;
END
$$;
