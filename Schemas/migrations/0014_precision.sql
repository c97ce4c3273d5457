-- Driftless schema 14: the number format a model's dense layers multiply in, part of its identity
-- (`coord models add --precision`, `coord submit --precision`, a model named FOLDER:bf16 or
-- FOLDER:int8). 'fp32' is exact; 'bf16' rounds weights and layer inputs to bfloat16; 'int8'
-- quantizes weights per output channel (symmetric, s8) and layer inputs per row at run time
-- (asymmetric, u8, 255 levels). Workers announce the precisions they produce, and are dealt
-- only shards whose index's model is in one of them: one index, one precision.
ALTER TABLE models ADD COLUMN precision text NOT NULL DEFAULT 'fp32'
    CHECK (precision IN ('fp32', 'bf16', 'int8'));
