-- Driftless schema 16: a job whose staged documents are all deleted says so.
-- The coordinator deletes a finished job's staged rows in steps, then looks for the next job
-- that has some. Looking at a job whose million rows had just been deleted walked a million
-- dead index entries (2 s, measured), and it looked every 5 s until autovacuum came: `coord
-- status` waited behind it. A job marked here is not looked at again.
ALTER TABLE jobs ADD COLUMN staging_dropped boolean NOT NULL DEFAULT false;
UPDATE jobs j SET staging_dropped = true
WHERE j.state IN ('indexing', 'done', 'failed', 'cancelled')
    AND NOT EXISTS (SELECT 1 FROM job_documents d WHERE d.job_id = j.id);
