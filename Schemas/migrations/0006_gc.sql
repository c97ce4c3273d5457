-- coord gc: once an index's old vectors are freed after its promotion, its serving state
-- cannot be rolled back (there is nothing to return to).
ALTER TABLE index_serving ADD COLUMN collected_at timestamptz;
COMMENT ON COLUMN index_serving.collected_at IS 'set by coord gc: the old vectors and the earlier states are gone, no rollback';
