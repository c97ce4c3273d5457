-- Staged documents keep their metadata exactly as submitted (text, not jsonb):
-- the content hash is computed from that text when the document is staged and
-- again by the worker that commits it, and jsonb would reformat it in between.
ALTER TABLE job_documents ALTER COLUMN metadata TYPE text;
