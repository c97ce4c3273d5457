import Corpus
import PostgresClient

/// A worker's read of the shard its lease holds: the staged documents, from
/// `driftless_leased_documents` (migrations 0017, 0018), so a shard's text does not pass through
/// the coordinator. The worker role has no privilege on `job_documents`; the function returns
/// the rows of the leased shard only, and none once the lease is gone.
public struct LeasedShard: Sendable {
    public var shard: Int64
    public var lease: Int64
    /// How many documents the coordinator's shard row counts.
    public var documentCount: Int

    public init(shard: Int64, lease: Int64, documentCount: Int) {
        self.shard = shard
        self.lease = lease
        self.documentCount = documentCount
    }

    public enum Outcome: Sendable, Equatable {
        case documents([Document])
        /// The lease no longer exists: the shard is someone else's now, or done.
        case fenced(String)
    }

    /// Reads the shard's documents in seq order. A count other than the shard row's, while the
    /// lease still holds, is an error (the staged rows are not what the coordinator dealt).
    public func read(from connection: PostgresConnection) throws(StoreError) -> Outcome {
        let rows = try connection.during("reading the documents of shard \(shard)") {
            try connection.execute(
                """
                SELECT seq, line, doc_id, title, body, metadata, version, content_hash
                FROM driftless_leased_documents($1)
                """,
                [String(lease)]
            )
        }
        if rows.rows.count == documentCount {
            return .documents(try rows.rows.map(Self.document))
        }
        let held = try connection.during("checking lease \(lease) of shard \(shard)") {
            try connection.execute(
                "SELECT 1 FROM shard_leases WHERE token = $1 AND shard_id = $2",
                [String(lease), String(shard)]
            )
        }
        guard !held.rows.isEmpty else {
            return .fenced("lease \(lease) of shard \(shard) is gone: nothing to read")
        }
        throw .invalid(
            "shard \(shard) counts \(documentCount) documents, but \(rows.rows.count) are staged for lease \(lease)"
        )
    }

    private static func document(_ row: [String?]) throws(StoreError) -> Document {
        guard let seq = row[0].flatMap({ Int($0) }), let line = row[1].flatMap({ Int($0) }),
            let id = row[2], let title = row[3], let body = row[4], let metadata = row[5],
            let version = row[6].flatMap({ Int64($0) })
        else {
            throw .invalid("a staged document row has a missing or malformed column: \(row.prefix(3))")
        }
        return Document(
            seq: seq,
            line: line,
            id: id,
            title: title,
            text: body,
            metadata: metadata,
            version: version,
            contentHash: row[7]
        )
    }
}
