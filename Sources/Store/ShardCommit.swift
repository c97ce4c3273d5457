import Corpus
import JobStates
import PostgresClient

/// A worker's write of one shard: its documents and vectors and the shard's
/// completion, in ONE transaction fenced by the lease. A document or vector is written only
/// over an older (or the same) version, so the newest submission of a document wins whatever
/// order the shards carrying its versions commit in (a deletion is a newer version too); each
/// vector row counts its commits.
public struct ShardCommit {
    public var shard: Int64
    public var lease: Int64
    public var job: Int64
    public var worker: String
    public var collectionId: Int64
    public var vectorTable: String
    public var dimension: Int
    public var documents: [Document]
    /// One vector per document, `dimension` floats each.
    public var vectors: [[Float]]

    public init(
        shard: Int64,
        lease: Int64,
        job: Int64,
        worker: String,
        collectionId: Int64,
        vectorTable: String,
        dimension: Int,
        documents: [Document],
        vectors: [[Float]]
    ) {
        self.shard = shard
        self.lease = lease
        self.job = job
        self.worker = worker
        self.collectionId = collectionId
        self.vectorTable = vectorTable
        self.dimension = dimension
        self.documents = documents
        self.vectors = vectors
    }

    public enum Outcome: Sendable, Equatable {
        case committed
        /// The lease no longer exists or the shard is already done: nothing was written.
        case fenced(String)
    }

    /// Writes the shard. The shard row is locked first, so a commit, a revocation
    /// and another copy's commit of the same shard happen one after the other.
    public func write(to connection: PostgresConnection) throws(StoreError) -> Outcome {
        guard vectors.count == documents.count else {
            throw .invalid("shard \(shard): \(documents.count) documents but \(vectors.count) vectors")
        }
        if let bad = vectors.first(where: { $0.count != dimension }) {
            throw .dimensionMismatch(table: vectorTable, expected: dimension, got: bad.count)
        }
        guard vectorTable.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw .invalid("shard \(shard): vector table name \"\(vectorTable)\" is not a plain identifier")
        }
        // Binary COPY: a vector's floats go as their 4 bytes, not as text the server parses back
        // (7 to 10 times the vectors/s of the text format at 384 and 768 dimensions, measured
        // with `coord bench-copy --format both`, BENCHMARKS.md).
        var copy = CopyBinary()
        for (document, vector) in zip(documents, vectors) {
            copy.beginRow(fields: 7)
            copy.text(document.id)
            copy.text(document.title)
            copy.text(document.text)
            copy.jsonb(document.metadata)
            copy.text(
                document.contentHash
                    ?? ContentHash.of(title: document.title, text: document.text, metadata: document.metadata)
            )
            copy.vector(vector)
            copy.bigint(document.version)
        }
        return try connection.during("committing shard \(shard)") {
            try connection.transaction { () throws -> Outcome in
                // Under the worker role, row security shows only shards that still hold a lease.
                guard let state = try StateRows.shard(shard, connection) else {
                    return .fenced("shard \(shard) holds no lease any more (or does not exist)")
                }
                guard state != .done else { return .fenced("shard \(shard) was already committed by another worker") }
                guard state == .leased else { return .fenced("shard \(shard) is \(state), no longer leased") }
                let held = try connection.execute(
                    "SELECT 1 FROM shard_leases WHERE token = $1 AND shard_id = $2",
                    [String(lease), String(shard)]
                )
                guard !held.isEmpty else { return .fenced("lease \(lease) of shard \(shard) was revoked") }
                // One table for the connection's life, emptied at each commit (its vectors of any
                // dimension: the index's column checks theirs). Made and dropped per shard, it wrote
                // and deleted catalog rows at every commit, the churn that failed a 10,000,000-document
                // upload's staging when one commit waited on the catalog's locks (see JobStore.stage).
                try connection.execute(
                    """
                    CREATE TEMPORARY TABLE IF NOT EXISTS incoming (doc_id text, title text, body text, metadata jsonb,
                        content_hash text, embedding vector, version bigint) ON COMMIT DELETE ROWS
                    """
                )
                try connection.copyIn(
                    "COPY incoming (doc_id, title, body, metadata, content_hash, embedding, version) FROM STDIN (FORMAT binary)",
                    data: copy.data
                )
                try connection.execute(
                    """
                    \(VersionedWrite.written(from: "incoming", collection: 3))
                    INSERT INTO \(vectorTable) AS v (doc_id, embedding, content_hash, job_id, shard_id, version)
                    SELECT i.doc_id, i.embedding, i.content_hash, $1, $2, i.version
                    FROM incoming i JOIN written w ON w.doc_id = i.doc_id
                    ON CONFLICT (doc_id) DO UPDATE SET embedding = excluded.embedding, content_hash = excluded.content_hash,
                        job_id = excluded.job_id, shard_id = excluded.shard_id, embedded_at = now(),
                        version = excluded.version, commits = v.commits + 1
                    WHERE v.version <= excluded.version
                    """,
                    [String(job), String(shard), String(collectionId)]
                )
                try connection.execute(
                    "UPDATE shards SET state = 'done', worker = $2, finished_at = now() WHERE id = $1",
                    [String(shard), worker]
                )
                try connection.execute("DELETE FROM shard_leases WHERE shard_id = $1", [String(shard)])
                return .committed
            }
        }
    }
}
