-- Driftless schema 4: model upgrades without re-indexing. A projection maps a newer
-- model's embedding space into an index's; an index's serving state says which model
-- embeds its queries and how they meet the stored vectors. Every change of serving
-- state is a new row (the previous one ended), so an upgrade can be rolled back.
CREATE TABLE projections (
    id          bigserial PRIMARY KEY,
    index_id    bigint NOT NULL REFERENCES indexes (id) ON DELETE CASCADE,
    -- The model whose space the projection maps from (into the index's model's space).
    model_id    bigint NOT NULL REFERENCES models (id),
    method      text NOT NULL,
    pairs       integer NOT NULL,
    data        bytea NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE index_serving (
    id                  bigserial PRIMARY KEY,
    index_id            bigint NOT NULL REFERENCES indexes (id) ON DELETE CASCADE,
    -- The model that embeds queries.
    model_id            bigint NOT NULL REFERENCES models (id),
    mode                text NOT NULL CHECK (mode IN ('native', 'project', 'fuse', 'rescore')),
    projection_id       bigint REFERENCES projections (id),
    -- fuse: the weight of the projected new-model query (the old model's query has 1 − weight).
    fuse_weight         real CHECK (fuse_weight BETWEEN 0 AND 1),
    -- rescore: candidates taken from the stored vectors before re-scoring.
    rescore_depth       integer CHECK (rescore_depth > 0),
    -- The index of the same collection embedded by the new model (sampled, re-scored and re-indexed vectors).
    successor_index_id  bigint REFERENCES indexes (id),
    -- The state that was current when this one began: what --rollback restores.
    previous_id         bigint REFERENCES index_serving (id),
    started_at          timestamptz NOT NULL DEFAULT now(),
    ended_at            timestamptz,
    CHECK (mode = 'native' OR successor_index_id IS NOT NULL),
    CHECK (mode NOT IN ('project', 'fuse') OR projection_id IS NOT NULL)
);
CREATE UNIQUE INDEX index_serving_current ON index_serving (index_id) WHERE ended_at IS NULL;
