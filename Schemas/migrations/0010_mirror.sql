-- Driftless schema 10: `coord submit --mirror`. The file is the whole index: when the upload is
-- sealed, every document of the index absent from it is deleted (tombstoned, its vectors removed)
-- in every generation the job writes, in the transaction of the seal's first step.
ALTER TABLE jobs ADD COLUMN mirror boolean NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN deleted_docs integer NOT NULL DEFAULT 0;
