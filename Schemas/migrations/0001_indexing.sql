-- Driftless schema 1: collections, documents, models, indexes, jobs, shards,
-- leases, workers and rejected documents. Applied once by `coord migrate`
-- (also run by `coord serve`) and recorded in schema_migrations.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE collections (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A collection's documents as last indexed. Written by workers in the same
-- transaction as the document's vector, so text and vector always agree.
CREATE TABLE documents (
    collection_id  bigint NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    doc_id         text NOT NULL,
    title          text NOT NULL,
    body           text NOT NULL,
    metadata       jsonb NOT NULL DEFAULT '{}',
    -- sha256 of title, text and metadata: re-submitting skips unchanged documents.
    content_hash   text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection_id, doc_id)
);

-- The model registry. A worker whose weights hash differs from a model's is refused its shards.
CREATE TABLE models (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL UNIQUE,
    architecture     text NOT NULL,
    dimension        integer NOT NULL CHECK (dimension > 0),
    pooling          text NOT NULL,
    normalized       boolean NOT NULL,
    max_seq_length   integer NOT NULL,
    prompts          jsonb NOT NULL DEFAULT '{}',
    weights_hash     text NOT NULL,
    registered_at    timestamptz NOT NULL DEFAULT now()
);

-- An index: a collection embedded by a model. Its vectors live in their own
-- table (vector_table) with one pgvector column of the model's dimension.
CREATE TABLE indexes (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    collection_id  bigint NOT NULL REFERENCES collections (id),
    model_id       bigint NOT NULL REFERENCES models (id),
    vector_table   text NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id              bigserial PRIMARY KEY,
    index_id        bigint NOT NULL REFERENCES indexes (id),
    state           text NOT NULL CHECK (state IN ('receiving', 'running', 'done', 'failed')),
    source          text NOT NULL,
    shard_size      integer NOT NULL CHECK (shard_size > 0),
    submitted_docs  integer NOT NULL DEFAULT 0,
    unchanged_docs  integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    error           text
);

-- Documents of a job waiting to be embedded, in submission order (seq).
-- Deleted when the job finishes.
CREATE TABLE job_documents (
    job_id        bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq           integer NOT NULL,
    line          integer NOT NULL,
    doc_id        text NOT NULL,
    title         text NOT NULL,
    body          text NOT NULL,
    metadata      jsonb NOT NULL,
    content_hash  text NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- A shard: the job's documents with seq in [first_seq, last_seq].
--   pending -> leased -> done
--                     -> split (failed too often: two halves replace it)
--                     -> failed (a single document that fails every time; recorded as rejected)
CREATE TABLE shards (
    id           bigserial PRIMARY KEY,
    job_id       bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    parent_id    bigint REFERENCES shards (id),
    first_seq    integer NOT NULL,
    last_seq     integer NOT NULL,
    doc_count    integer NOT NULL CHECK (doc_count > 0),
    state        text NOT NULL CHECK (state IN ('pending', 'leased', 'done', 'split', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    worker       text,
    error        text,
    finished_at  timestamptz
);
CREATE INDEX shards_job_state ON shards (job_id, state);

-- Leases: the right to commit a shard. A worker's commit locks the shard row,
-- checks that its lease still exists and the shard is not done, writes, marks
-- the shard done and deletes every lease of it: the first commit wins, and a
-- worker whose lease was revoked cannot commit (fencing).
CREATE TABLE shard_leases (
    token       bigserial PRIMARY KEY,
    shard_id    bigint NOT NULL REFERENCES shards (id) ON DELETE CASCADE,
    worker      text NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shard_leases_shard ON shard_leases (shard_id);

CREATE TABLE workers (
    id          text PRIMARY KEY,
    host        text NOT NULL,
    version     text NOT NULL,
    threads     integer NOT NULL,
    models      jsonb NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rejected_documents (
    id           bigserial PRIMARY KEY,
    job_id       bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    line         integer,
    doc_id       text,
    error        text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_documents_job ON rejected_documents (job_id);
