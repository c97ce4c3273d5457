-- Driftless schema 15: a staged chunk's duplicate ids found by the index itself.
-- The check was a query per chunk: for each new row, the job's earliest row with the same id
-- before it (ORDER BY seq LIMIT 1). Whenever the statistics put the job at about no rows (a new
-- job, the table last analyzed full of another job's rows) the planner could walk the primary
-- key (job_id, seq) in order and filter on the id instead: a 500-document chunk then took
-- seconds once tens of thousands were staged, the upload stalled and the coordinator with it.
-- Ids are unique within a job (a duplicate is refused, or dropped with --skip-invalid): the
-- index says so, and staging inserts with ON CONFLICT DO NOTHING, so the executor finds the
-- duplicates with one probe each, whatever the statistics say.
DROP INDEX job_documents_doc;
CREATE UNIQUE INDEX job_documents_doc ON job_documents (job_id, doc_id);
