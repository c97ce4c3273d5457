import Foundation
import PostgresClient

/// How an index answers queries: which model embeds them and how they meet the stored vectors.
public struct ServingState: Sendable, Equatable {
    /// The successor of index `index` for `model`: the index that holds that model's vectors of
    /// the same collection (the one naming rule).
    public static func successorName(of index: String, model: String) -> String { "\(index)@\(model)" }

    /// fuse: the weight of the projected new-model query when none was chosen.
    public static let defaultFuseWeight = 0.5
    /// rescore: candidates re-scored when no depth was given.
    public static let defaultRescoreDepth = 20

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
            try connection.execute("\(Self.currentQuery) AND s.index_id = $1", [String(index.id)])
        }
        return rows.isEmpty ? ServingState(mode: .native, model: index.model) : Self.state(rows, 0)
    }

    /// The current serving state of every index that has one, by index id, in one statement
    /// (an index without one serves natively with its own model).
    public func currentStates() throws(StoreError) -> [Int64: ServingState] {
        let rows = try connection.during("reading how the indexes serve") {
            try connection.execute(Self.currentQuery)
        }
        var states: [Int64: ServingState] = [:]
        for row in 0..<rows.count {
            guard let id = rows.int(row, "index_id") else { continue }
            states[Int64(id)] = Self.state(rows, row)
        }
        return states
    }

    private static let currentQuery = """
        SELECT s.index_id, s.mode, s.projection_id, s.fuse_weight, s.rescore_depth, si.name AS successor, m.*
        FROM index_serving s JOIN models m ON m.id = s.model_id LEFT JOIN indexes si ON si.id = s.successor_index_id
        WHERE s.ended_at IS NULL
        """

    private static func state(_ rows: PostgresRows, _ row: Int) -> ServingState {
        ServingState(
            mode: ServingState.Mode(rawValue: rows.value(row, "mode") ?? "") ?? .native,
            model: Catalog.model(rows, row),
            projectionId: rows.value(row, "projection_id").flatMap { Int64($0) },
            fuseWeight: rows.double(row, "fuse_weight"),
            rescoreDepth: rows.int(row, "rescore_depth"),
            successorIndex: rows.value(row, "successor")
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

    /// Makes `state` the index's serving state, atomically: the current one ends in the same transaction,
    /// which first checks that the index still serves `expected` (what the caller read before its fit:
    /// another upgrade, promote, rollback or gc meanwhile refuses this one) and is not embedded by
    /// `state`'s model already.
    public func switchTo(_ state: ServingState, index: IndexRecord, expecting expected: ServingState) throws(StoreError)
    {
        try connection.during("switching how index \(index.name) serves") {
            try connection.transaction {
                try lock(index)
                let now = try current(index)
                guard now == expected else {
                    throw StoreError.invalid(
                        "index \(index.name) changed while this upgrade ran (it serves \(now.mode.rawValue) with \(now.model.name) now, not \(expected.mode.rawValue) with \(expected.model.name)): run the upgrade again"
                    )
                }
                if now.mode == .promoted {
                    throw StoreError.invalid(
                        "index \(index.name) is promoted to \(now.model.name): `coord gc --index \(index.name)` makes that its own model first (or `coord upgrade --rollback`)"
                    )
                }
                guard index.model.id != state.model.id else {
                    throw StoreError.invalid("index \(index.name) is embedded by \(state.model.name) already")
                }
                try replaceCurrent(with: state, index: index)
            }
        }
    }

    /// Serves `index` from `successor` natively (`promoted`), in one transaction with the checks that
    /// the index is not promoted to it already and that the successor holds the current version of
    /// every document (the same content hash: a document changed since the re-index counts as missing).
    public func promote(_ index: IndexRecord, to successor: IndexRecord) throws(StoreError) {
        try connection.during("promoting index \(index.name)") {
            try connection.transaction {
                try lock(index)
                let now = try current(index)
                if now.mode == .promoted && now.model.id == successor.model.id {
                    throw StoreError.invalid("index \(index.name) is already promoted to \(successor.model.name)")
                }
                let missing =
                    try connection.execute(
                        """
                        SELECT count(*) FROM documents d WHERE d.collection_id = $1 AND NOT d.deleted
                        AND NOT \(VersionedWrite.hasCurrentVector("d", in: successor.vectorTable))
                        """,
                        [String(index.collectionId)]
                    ).scalar.flatMap { Int($0) } ?? 0
                guard missing == 0 else {
                    throw StoreError.invalid(
                        "\(successor.name) lacks the current version of \(missing) documents of \(index.name): `coord reindex --index \(index.name) --to \(successor.model.name)` first"
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
                // After `coord gc` the index has no serving history: it serves its own (new) vectors natively.
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
        /// The generation that became the index.
        public var successor: IndexRecord
    }

    /// Once an index is promoted, its successor *becomes* the index, in one transaction: the index's
    /// record takes the successor's model, vectors (with their HNSW index) and documents; the old
    /// vectors, their documents, the projections and the serving history are dropped, and the
    /// successor's own record with them (its jobs move to the index). The index then serves natively,
    /// and its next upgrade starts from the new model like the first one did. Refused unless the
    /// index serves `promoted`, and while a job of either generation is open.
    public func collectGarbage(_ index: IndexRecord, dryRun: Bool) throws(StoreError) -> Garbage {
        try connection.during("collecting garbage of index \(index.name)") {
            try connection.transaction {
                try lock(index)
                let state = try current(index)
                guard state.mode == .promoted, let name = state.successorIndex,
                    let successor = try Catalog(connection).index(named: name)
                else {
                    throw StoreError.invalid(
                        "index \(index.name) serves \(state.mode) with \(state.model.name): its vectors are in use (gc runs after `coord promote`)"
                    )
                }
                let both = "{\(index.id),\(successor.id)}"
                let open = try connection.execute(
                    """
                    SELECT id FROM jobs WHERE index_id = ANY($1::bigint[]) AND state IN ('receiving', 'running', 'indexing')
                    ORDER BY id FOR UPDATE
                    """,
                    [both]
                )
                guard open.isEmpty else {
                    let jobs = open.rows.compactMap { $0[0] }.joined(separator: ", ")
                    throw StoreError.invalid(
                        "index \(index.name) has open jobs on its generations (\(jobs)): gc once they are done, or `coord cancel` them"
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
                    ),
                    successor: successor
                )
                guard !dryRun else { return garbage }
                try connection.execute("DELETE FROM index_serving WHERE index_id = ANY($1::bigint[])", [both])
                try connection.execute("DELETE FROM projections WHERE index_id = ANY($1::bigint[])", [both])
                try connection.execute(
                    "UPDATE jobs SET index_id = $1 WHERE index_id = $2",
                    [String(index.id), String(successor.id)]
                )
                // The successor's record goes first (its vector table's name is unique), the index takes its place.
                try connection.execute("DELETE FROM indexes WHERE id = $1", [String(successor.id)])
                try connection.execute(
                    """
                    UPDATE indexes SET model_id = $2, vector_table = $3, collection_id = $4,
                        hnsw_m = $5, hnsw_ef_construction = $6, ef_search = $7
                    WHERE id = $1
                    """,
                    [
                        String(index.id), String(successor.model.id), successor.vectorTable,
                        String(successor.collectionId), String(successor.hnsw.m), String(successor.hnsw.efConstruction),
                        String(successor.efSearch),
                    ]
                )
                try connection.execute("DROP TABLE \(index.vectorTable)")
                try connection.execute("DELETE FROM collections WHERE id = $1", [String(index.collectionId)])
                try connection.execute(
                    "UPDATE collections SET name = $2 WHERE id = $1",
                    [String(successor.collectionId), index.name]
                )
                // Workers may write the table only for leased shards of the index's own jobs now.
                try connection.execute(
                    "SELECT driftless_protect_vector_table($1, $2)",
                    [successor.vectorTable, String(index.id)]
                )
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
