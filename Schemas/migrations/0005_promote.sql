-- Driftless schema 5: `coord promote`. An index whose successor (INDEX@MODEL) holds every
-- document's new vector serves from it natively: queries embedded by the new model, searched
-- on the successor's vectors. The old vectors stay until `coord gc`; --rollback returns.
ALTER TABLE index_serving DROP CONSTRAINT index_serving_mode_check;
ALTER TABLE index_serving ADD CONSTRAINT index_serving_mode_check
    CHECK (mode IN ('native', 'project', 'fuse', 'rescore', 'promoted'));
