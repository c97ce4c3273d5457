-- Driftless schema 11: what a corpus of millions needs.
-- A job's staged documents by id: the duplicate check of each staged chunk, the seal's
-- "unchanged or staged by another running job" test and a mirror's deletion look ids up
-- instead of scanning every staged row once per document (quadratic: a 100,000-document
-- seal step took minutes).
CREATE INDEX job_documents_doc ON job_documents (job_id, doc_id);
-- Duplicate ids are found by the coordinator as chunks are staged (`coord submit` holds no
-- map of the corpus's ids): a job submitted with --skip-invalid records a later duplicate as
-- rejected and keeps the first; any other job fails, naming both lines.
ALTER TABLE jobs ADD COLUMN skip_invalid boolean NOT NULL DEFAULT false;
