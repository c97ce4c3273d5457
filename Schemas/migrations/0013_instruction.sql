-- Driftless schema 13: the task of an index's queries (`coord submit --instruction`), filled into
-- the query prompt of models that take one (LLM embedders: "Instruct: {task}\nQuery:").
-- NULL: each model's own query prompt. Documents get no instruction.
ALTER TABLE indexes ADD COLUMN instruction text;
