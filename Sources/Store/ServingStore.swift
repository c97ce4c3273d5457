import Foundation
import PostgresClient

/// How an index answers queries: which model embeds them and how they meet the stored vectors.
public struct ServingState: Sendable, Equatable {
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// Queries embedded by the index's own model.
        case native
        /// New-model queries through a projection onto the stored (old) vectors.
        case project
        /// The projected new-model query blended with the old model's query.
        case fuse
        /// Candidates from the stored vectors (old-model query), re-scored with new-model vectors.
        case rescore
        /// The successor index holds every document's new vector: new-model queries search it natively.
        case promoted
    }

    public var mode: Mode
    /// The model that embeds queries (the new one after an upgrade).
    public var model: ModelRecord
    public var projectionId: Int64?
    public var fuseWeight: Double?
    public var rescoreDepth: Int?
    /// The index of the same collection embedded by `model`.
    public var successorIndex: String?

    public init(
        mode: Mode,
        model: ModelRecord,
        projectionId: Int64? = nil,
        fuseWeight: Double? = nil,
        rescoreDepth: Int? = nil,
        successorIndex: String? = nil
    ) {
        self.mode = mode
        self.model = model
        self.projectionId = projectionId
        self.fuseWeight = fuseWeight
        self.rescoreDepth = rescoreDepth
        self.successorIndex = successorIndex
    }
}

/// Projections and serving states of indexes, with their history (for `--rollback`).
public struct ServingStore {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) { self.connection = connection }

    /// The index's current serving state (native with its own model unless upgraded).
    public func current(_ index: IndexRecord) throws(StoreError) -> ServingState {
        let rows = try connection.during("reading how index \(index.name) serves") {
            try connection.execute(
                """
                SELECT s.mode, s.projection_id, s.fuse_weight, s.rescore_depth, si.name AS successor, m.*
                FROM index_serving s JOIN models m ON m.id = s.model_id LEFT JOIN indexes si ON si.id = s.successor_index_id
                WHERE s.index_id = $1 AND s.ended_at IS NULL
                """,
                [String(index.id)]
            )
        }
        guard !rows.isEmpty else { return ServingState(mode: .native, model: index.model) }
        return ServingState(
            mode: ServingState.Mode(rawValue: rows.value(0, "mode") ?? "") ?? .native,
            model: Catalog.model(rows, 0),
            projectionId: rows.value(0, "projection_id").flatMap { Int64($0) },
            fuseWeight: rows.double(0, "fuse_weight"),
            rescoreDepth: rows.int(0, "rescore_depth"),
            successorIndex: rows.value(0, "successor")
        )
    }

    /// Stores a fitted projection (its bytes from `Projection.encoded()`); returns its id.
    public func saveProjection(
        index: IndexRecord,
        from model: ModelRecord,
        method: String,
        pairs: Int,
        data: Data,
        details: String
    ) throws(StoreError) -> Int64 {
        try connection.during("storing a projection for index \(index.name)") {
            Int64(
                try connection.execute(
                    """
                    INSERT INTO projections (index_id, model_id, method, pairs, data, details)
                    VALUES ($1, $2, $3, $4, decode($5, 'base64'), $6::jsonb) RETURNING id
                    """,
                    [String(index.id), String(model.id), method, String(pairs), data.base64EncodedString(), details]
                ).scalar ?? "0"
            ) ?? 0
        }
    }

    /// The newest projection fitted for `index` from `model`'s space.
    public func latestProjection(index: IndexRecord, from model: ModelRecord) throws(StoreError) -> Int64? {
        try connection.during("looking up projections of index \(index.name)") {
            try connection.execute(
                "SELECT max(id) FROM projections WHERE index_id = $1 AND model_id = $2",
                [String(index.id), String(model.id)]
            ).scalar.flatMap { Int64($0) }
        }
    }

    /// A stored projection's bytes.
    public func projection(id: Int64) throws(StoreError) -> Data {
        let text = try connection.during("reading projection \(id)") {
            try connection.execute("SELECT encode(data, 'base64') FROM projections WHERE id = $1", [String(id)]).scalar
        }
        // PostgreSQL breaks base64 into lines of 76 characters.
        guard let text, let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
            throw .invalid("projection \(id) not found")
        }
        return data
    }

    /// Makes `state` the index's serving state, atomically: the current one ends in the same transaction.
    public func switchTo(_ state: ServingState, index: IndexRecord) throws(StoreError) {
        try connection.during("switching how index \(index.name) serves") {
            try connection.transaction { try replaceCurrent(with: state, index: index) }
        }
    }

    /// Serves `index` from `successor` natively (`promoted`), in one transaction with the check
    /// that the successor holds a vector for every document of the collection.
    public func promote(_ index: IndexRecord, to successor: IndexRecord) throws(StoreError) {
        try connection.during("promoting index \(index.name)") {
            try connection.transaction {
                try lock(index)
                let missing =
                    try connection.execute(
                        """
                        SELECT count(*) FROM documents d WHERE d.collection_id = $1
                        AND NOT EXISTS (SELECT 1 FROM \(successor.vectorTable) s WHERE s.doc_id = d.doc_id)
                        """,
                        [String(index.collectionId)]
                    ).scalar.flatMap { Int($0) } ?? 0
                guard missing == 0 else {
                    throw StoreError.invalid(
                        "\(successor.name) lacks \(missing) documents of \(index.name): `coord reindex --index \(index.name) --to \(successor.model.name)` first"
                    )
                }
                try replaceCurrent(
                    with: ServingState(mode: .promoted, model: successor.model, successorIndex: successor.name),
                    index: index
                )
            }
        }
    }

    /// Restores the serving state before the current one (native if there was none); returns it.
    public func rollback(_ index: IndexRecord) throws(StoreError) -> ServingState {
        try connection.during("rolling back index \(index.name)") {
            try connection.transaction {
                try lock(index)
                let collected = try connection.execute(
                    "SELECT 1 FROM index_serving WHERE index_id = $1 AND ended_at IS NULL AND collected_at IS NOT NULL",
                    [String(index.id)]
                )
                guard collected.isEmpty else {
                    throw StoreError.invalid(
                        "index \(index.name)'s old vectors were freed by `coord gc` after its promotion: there is nothing to roll back to"
                    )
                }
                let previous = try connection.execute(
                    "UPDATE index_serving SET ended_at = now() WHERE index_id = $1 AND ended_at IS NULL RETURNING id, previous_id",
                    [String(index.id)]
                )
                guard !previous.isEmpty else {
                    throw StoreError.invalid("index \(index.name) has no upgrade to roll back")
                }
                // The state that was current before this one, itself restorable to its own predecessor.
                if let before = previous.value(0, "previous_id") {
                    try connection.execute(
                        """
                        INSERT INTO index_serving
                            (index_id, model_id, mode, projection_id, fuse_weight, rescore_depth, successor_index_id, previous_id)
                        SELECT index_id, model_id, mode, projection_id, fuse_weight, rescore_depth, successor_index_id, previous_id
                        FROM index_serving WHERE id = $1
                        """,
                        [before]
                    )
                }
            }
        }
        return try current(index)
    }

    /// What ``collectGarbage(_:dryRun:)`` freed (or would free).
    public struct Garbage: Sendable {
        public var oldVectors: Int
        /// Bytes of the old vector table with its indexes, before.
        public var oldVectorBytes: Int
        public var projections: Int
        /// Earlier serving states (no longer restorable by `--rollback`).
        public var history: Int
    }

    /// Once an index is promoted, frees what only a rollback could use: its old model's vectors
    /// (the table is emptied, not dropped: the index keeps its name and record), its projections,
    /// and its serving history, in one transaction. Refused unless the index serves `promoted`.
    public func collectGarbage(_ index: IndexRecord, dryRun: Bool) throws(StoreError) -> Garbage {
        try connection.during("collecting garbage of index \(index.name)") {
            try connection.transaction {
                try lock(index)
                let state = try current(index)
                guard state.mode == .promoted else {
                    throw StoreError.invalid(
                        "index \(index.name) serves \(state.mode) with \(state.model.name): its vectors are in use (gc runs after `coord promote`)"
                    )
                }
                let number = { (sql: String, parameters: [String?]) throws -> Int in
                    Int(try connection.execute(sql, parameters).scalar ?? "0") ?? 0
                }
                let id = [String(index.id)]
                let garbage = Garbage(
                    oldVectors: try number("SELECT count(*) FROM \(index.vectorTable)", []),
                    oldVectorBytes: try number("SELECT pg_total_relation_size($1::regclass)", [index.vectorTable]),
                    projections: try number("SELECT count(*) FROM projections WHERE index_id = $1", id),
                    history: try number(
                        "SELECT count(*) FROM index_serving WHERE index_id = $1 AND ended_at IS NOT NULL",
                        id
                    )
                )
                guard !dryRun else { return garbage }
                try connection.execute(
                    "UPDATE index_serving SET previous_id = NULL, collected_at = now() WHERE index_id = $1 AND ended_at IS NULL",
                    id
                )
                try connection.execute("UPDATE index_serving SET previous_id = NULL WHERE index_id = $1", id)
                try connection.execute("DELETE FROM index_serving WHERE index_id = $1 AND ended_at IS NOT NULL", id)
                try connection.execute("DELETE FROM projections WHERE index_id = $1", id)
                try connection.execute("TRUNCATE \(index.vectorTable)")
                return garbage
            }
        }
    }

    /// Serialises changes of one index's serving state (inside a transaction).
    private func lock(_ index: IndexRecord) throws {
        try connection.execute("SELECT id FROM indexes WHERE id = $1 FOR UPDATE", [String(index.id)])
    }

    /// Ends the current state and makes `state` current, remembering the one it replaced.
    private func replaceCurrent(with state: ServingState, index: IndexRecord) throws {
        try lock(index)
        let previous = try connection.execute(
            "UPDATE index_serving SET ended_at = now() WHERE index_id = $1 AND ended_at IS NULL RETURNING id",
            [String(index.id)]
        ).scalar
        try insert(state, index: index, previous: previous)
    }

    private func insert(_ state: ServingState, index: IndexRecord, previous: String?) throws {
        var successorId: String?
        if let name = state.successorIndex {
            successorId = try connection.execute("SELECT id FROM indexes WHERE name = $1", [name]).scalar
            guard successorId != nil else { throw StoreError.unknownIndex(name) }
        }
        try connection.execute(
            """
            INSERT INTO index_serving (index_id, model_id, mode, projection_id, fuse_weight, rescore_depth, successor_index_id, previous_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            [
                String(index.id), String(state.model.id), state.mode.rawValue, state.projectionId.map(String.init),
                state.fuseWeight.map { String($0) }, state.rescoreDepth.map(String.init), successorId, previous,
            ]
        )
    }
}
