import PostgresClient

/// `coord delete`: removes documents from every live generation of an index (see ``IndexRoute``).
///
/// A deleted document leaves a tombstone: its row stays, marked deleted, at a newer version than any
/// submission staged before the delete. A commit still in flight for an older version (a running job,
/// a follow-up copying it to the successor) therefore writes neither it nor its vector (``ShardCommit``);
/// a later submission of the document is a newer version again and brings it back.
public struct DocumentDeletion {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) { self.connection = connection }

    /// What one call deleted.
    public struct Outcome: Sendable, Equatable {
        /// Ids that had a document in the serving generation.
        public var deleted: Int
        /// Ids the index did not hold (tombstoned all the same: a running job cannot add them).
        public var absent: Int
        /// The generations they were removed from.
        public var generations: [String]

        public init(deleted: Int, absent: Int, generations: [String]) {
            self.deleted = deleted
            self.absent = absent
            self.generations = generations
        }
    }

    /// Deletes `ids` (duplicates count once) from index `name`, in one transaction.
    public func delete(_ ids: [String], from name: String) throws(StoreError) -> Outcome {
        let unique = Array(Set(ids)).sorted()
        return try connection.during("deleting \(unique.count) documents from index \(name)") {
            try connection.transaction {
                // Serialised with upgrades, promotions and gc: the generations cannot change meanwhile.
                let locked = try connection.execute("SELECT id FROM indexes WHERE name = $1 FOR UPDATE", [name])
                guard !locked.isEmpty else { throw StoreError.unknownIndex(name) }
                let route = try IndexRoute.resolve(name, model: nil, connection: connection)
                let list = CopyText.textArray(unique)
                let present =
                    Int(
                        try connection.execute(
                            "SELECT count(*) FROM documents WHERE collection_id = $1 AND doc_id = ANY($2::text[]) AND NOT deleted",
                            [String(route.target.collectionId), list]
                        ).scalar ?? "0"
                    ) ?? 0
                let generations = [route.target] + route.then
                for generation in generations {
                    try connection.execute(
                        """
                        INSERT INTO documents AS d (collection_id, doc_id, title, body, metadata, content_hash, version, deleted)
                        SELECT $1, id, '', '', '{}', '', nextval('document_versions'), true FROM unnest($2::text[]) AS id
                        ON CONFLICT (collection_id, doc_id) DO UPDATE SET title = '', body = '', metadata = '{}',
                            content_hash = '', version = excluded.version, deleted = true, updated_at = now()
                        """,
                        [String(generation.collectionId), list]
                    )
                    try connection.execute(
                        "DELETE FROM \(generation.vectorTable) WHERE doc_id = ANY($1::text[])",
                        [list]
                    )
                }
                return Outcome(deleted: present, absent: unique.count - present, generations: generations.map(\.name))
            }
        }
    }
}
