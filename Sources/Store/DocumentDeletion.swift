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
                        Self.tombstones(collection: "$1", ids: "SELECT id FROM unnest($2::text[]) AS id"),
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

    /// Makes each document of `ids` (a query of one column) in `collection` (an SQL expression) a
    /// tombstone at a new version: text, metadata and hash emptied, `deleted` set.
    private static func tombstones(collection: String, ids: String) -> String {
        """
        INSERT INTO documents AS d (collection_id, doc_id, title, body, metadata, content_hash, version, deleted)
        SELECT \(collection), t.id, '', '', '{}', '', nextval('document_versions'), true FROM (\(ids)) AS t (id)
        ON CONFLICT (collection_id, doc_id) DO UPDATE SET title = '', body = '', metadata = '{}',
            content_hash = '', version = excluded.version, deleted = true, updated_at = now()
        """
    }

    /// `coord submit --mirror`: deletes, from every generation `job` writes (its index and the
    /// generations that follow it), each document of its index that the job's file does not hold,
    /// as ``delete(_:from:)`` does; ids of lines the file had but were rejected are kept. Runs in
    /// the caller's transaction, before the seal drops any unchanged document from the job, and
    /// records the count in `jobs.deleted_docs`. A file with a rejected line without an id deletes
    /// nothing (which document that line meant is unknown); the count is then -1.
    func deleteAbsent(job: Int64) throws {
        let unknown = try connection.execute(
            "SELECT EXISTS (SELECT 1 FROM rejected_documents WHERE job_id = $1 AND doc_id IS NULL)",
            [String(job)]
        ).scalar
        guard unknown == "f" else {
            try connection.execute("UPDATE jobs SET deleted_docs = -1 WHERE id = $1", [String(job)])
            return
        }
        let generations = try connection.execute(
            """
            SELECT i.id, i.collection_id, i.vector_table, i.id = j.index_id AS serving
            FROM jobs j JOIN indexes i ON i.id = j.index_id OR i.id = ANY(j.then_index_ids)
            WHERE j.id = $1 ORDER BY (i.id = j.index_id), i.id
            """,
            [String(job)]
        )
        // What the file lacks, read from the job's own index: the generations that follow it first,
        // the job's index last (its documents are what the others are compared with).
        guard let target = (0..<generations.count).first(where: { generations.rows[$0][3] == "t" }) else { return }
        let absent = """
            SELECT d.doc_id FROM documents d
            WHERE d.collection_id = \(Int64(generations.rows[target][1]!)!) AND NOT d.deleted
              AND NOT EXISTS (SELECT 1 FROM job_documents s WHERE s.job_id = $1 AND s.doc_id = d.doc_id)
              AND NOT EXISTS (SELECT 1 FROM rejected_documents r WHERE r.job_id = $1 AND r.doc_id = d.doc_id)
            """
        var deleted = 0
        for row in 0..<generations.count {
            let collection = Int64(generations.rows[row][1]!)!
            let table = generations.rows[row][2]!
            try connection.execute("DELETE FROM \(table) WHERE doc_id IN (\(absent))", [String(job)])
            let tombstoned = try connection.execute(
                Self.tombstones(collection: String(collection), ids: absent),
                [String(job)]
            ).affected
            if row == target { deleted = tombstoned }
        }
        try connection.execute("UPDATE jobs SET deleted_docs = $2 WHERE id = $1", [String(job), String(deleted)])
    }
}
