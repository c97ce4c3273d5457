import PostgresClient

/// The model registry, collections and indexes.
public struct Catalog {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) { self.connection = connection }

    /// Registers `model` unless a model of that name exists; returns the registry's record
    /// (which wins when the weights differ: `registered.weightsHash != model.weightsHash`).
    public func register(_ model: ModelRecord) throws(StoreError) -> ModelRecord {
        try connection.during("registering model \(model.name)") {
            try connection.execute(
                """
                INSERT INTO models (name, architecture, dimension, pooling, normalized, max_seq_length, prompts, weights_hash,
                    precision)
                VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9) ON CONFLICT (name) DO NOTHING
                """,
                [
                    model.name, model.architecture, String(model.dimension), model.pooling,
                    model.normalized ? "t" : "f",
                    String(model.maxSequenceLength), model.prompts, model.weightsHash, model.precision,
                ]
            )
        }
        guard let registered = try self.model(named: model.name) else { throw .unknownModel(model.name, known: []) }
        return registered
    }

    /// The model registered as `name`. A variant name (``ModelName``: `FOLDER@D`, `FOLDER:int8`,
    /// `FOLDER@D:bf16`) of a registered folder's model is registered on first use, with the
    /// model's weights hash and prompts, dimension `D` and the precision; a `D` beyond the
    /// model's dimension is refused.
    public func model(named name: String) throws(StoreError) -> ModelRecord? {
        let rows = try connection.during("reading model \(name)") {
            try connection.execute("SELECT * FROM models WHERE name = $1", [name])
        }
        if !rows.isEmpty { return Self.model(rows, 0) }
        let parsed = ModelName(name)
        guard parsed.dimension != nil || parsed.precision != nil, parsed.folder != name,
            var variant = try model(named: parsed.folder)
        else { return nil }
        if let dimension = parsed.dimension {
            guard dimension <= variant.dimension else {
                throw .invalid(
                    "model \(name): \(dimension) dimensions asked of \(parsed.folder), which makes \(variant.dimension)-d vectors "
                        + "(a Matryoshka dimension must be 1 to \(variant.dimension))"
                )
            }
            variant.dimension = dimension
            variant.normalized = true
        }
        variant.name = name
        variant.precision = parsed.precision ?? "fp32"
        return try register(variant)
    }

    public func models() throws(StoreError) -> [ModelRecord] {
        let rows = try connection.during("listing models") {
            try connection.execute("SELECT * FROM models ORDER BY name")
        }
        return (0..<rows.count).map { Self.model(rows, $0) }
    }

    static func model(_ rows: PostgresRows, _ row: Int, prefix: String = "") -> ModelRecord {
        ModelRecord(
            id: Int64(rows.int(row, prefix + "id") ?? 0),
            name: rows.value(row, prefix + "name") ?? "",
            architecture: rows.value(row, prefix + "architecture") ?? "",
            dimension: rows.int(row, prefix + "dimension") ?? 0,
            pooling: rows.value(row, prefix + "pooling") ?? "",
            normalized: rows.value(row, prefix + "normalized") == "t",
            maxSequenceLength: rows.int(row, prefix + "max_seq_length") ?? 0,
            prompts: rows.value(row, prefix + "prompts") ?? "{}",
            weightsHash: rows.value(row, prefix + "weights_hash") ?? "",
            precision: rows.value(row, prefix + "precision") ?? "fp32"
        )
    }

    /// The index `name` for `model`, made (with its collection and vector table) when new.
    /// An existing index must have been built by the same model.
    public func index(
        named name: String,
        model modelName: String,
        succeeding predecessor: IndexRecord? = nil,
        storage requested: VectorStorage? = nil,
        instruction: String? = nil
    ) throws(StoreError) -> IndexRecord {
        guard let model = try model(named: modelName) else {
            throw .unknownModel(modelName, known: try models().map(\.name))
        }
        if let existing = try index(named: name) {
            guard existing.model.name == model.name else {
                throw .indexModelMismatch(index: name, model: model.name, existing: existing.model.name)
            }
            try existing.require(storage: requested)
            try existing.require(instruction: instruction)
            return existing
        }
        // A successor stores its vectors as its predecessor does, unless told otherwise.
        let storage = requested ?? predecessor?.storage ?? .vector
        try connection.during("creating index \(name)") {
            try connection.transaction {
                try connection.execute("SELECT pg_advisory_xact_lock(7426002)")
                if try !connection.execute("SELECT 1 FROM indexes WHERE name = $1", [name]).isEmpty { return }
                try connection.execute(
                    "INSERT INTO collections (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                    [name]
                )
                let id = try connection.execute(
                    """
                    INSERT INTO indexes (name, collection_id, model_id, vector_table, predecessor_id, storage, instruction)
                    SELECT $1, c.id, $2, 'pending' || c.id, $3, $4, $5 FROM collections c WHERE c.name = $1 RETURNING id
                    """,
                    [
                        name, String(model.id), predecessor.map { String($0.id) }, storage.rawValue,
                        instruction ?? predecessor?.instruction,
                    ]
                ).scalar!
                let table = "index_vectors_\(id)"
                try connection.execute("UPDATE indexes SET vector_table = $1 WHERE id = $2", [table, id])
                // One table per index: its pgvector column has the model's dimension.
                try connection.executeScript(
                    """
                    CREATE TABLE \(table) (
                        doc_id        text PRIMARY KEY,
                        embedding     \(storage.columnType(dimension: model.dimension)) NOT NULL,
                        content_hash  text NOT NULL,
                        job_id        bigint,
                        shard_id      bigint,
                        embedded_at   timestamptz NOT NULL DEFAULT now(),
                        version       bigint NOT NULL DEFAULT 0,
                        commits       integer NOT NULL DEFAULT 1
                    )
                    """
                )
                if storage.fitsInRow(dimension: model.dimension) {
                    // In the row, not out of line in TOAST: an exact search reads one place per row.
                    try connection.execute("ALTER TABLE \(table) ALTER COLUMN embedding SET STORAGE PLAIN")
                }
                // Workers may write it only for leased shards of this index (migration 0007).
                try connection.execute("SELECT driftless_protect_vector_table($1, $2)", [table, id])
            }
        }
        guard let created = try index(named: name) else { throw .unknownIndex(name) }
        return created
    }

    public func index(named name: String) throws(StoreError) -> IndexRecord? {
        let rows = try connection.during("reading index \(name)") {
            try connection.execute(
                """
                SELECT \(Self.indexColumns) FROM indexes i JOIN models m ON m.id = i.model_id WHERE i.name = $1
                """,
                [name]
            )
        }
        return rows.isEmpty ? nil : Self.index(rows, 0)
    }

    /// Every index, by name.
    public func indexes() throws(StoreError) -> [IndexRecord] {
        let rows = try connection.during("listing indexes") {
            try connection.execute(
                "SELECT \(Self.indexColumns) FROM indexes i JOIN models m ON m.id = i.model_id ORDER BY i.name"
            )
        }
        return (0..<rows.count).map { Self.index(rows, $0) }
    }

    /// Changes the HNSW parameters the next build of `index` uses, and its default ef_search.
    public func setSearchParameters(
        index: IndexRecord,
        hnsw: HnswParameters? = nil,
        efSearch: Int? = nil
    ) throws(StoreError) {
        let hnsw = hnsw ?? index.hnsw
        try hnsw.validate()
        let efSearch = efSearch ?? index.efSearch
        try HnswParameters.validate(efSearch: efSearch)
        try connection.during("setting search parameters of index \(index.name)") {
            try connection.execute(
                "UPDATE indexes SET hnsw_m = $2, hnsw_ef_construction = $3, ef_search = $4 WHERE id = $1",
                [String(index.id), String(hnsw.m), String(hnsw.efConstruction), String(efSearch)]
            )
        }
    }

    /// The columns ``index(_:_:)`` reads, from `indexes i JOIN models m`.
    static let indexColumns = """
        i.id AS index_id, i.name AS index_name, i.collection_id, i.vector_table, i.hnsw_m, i.hnsw_ef_construction,
        i.ef_search, (to_regclass(i.vector_table || '_hnsw') IS NOT NULL) AS has_hnsw, i.storage,
        i.instruction AS index_instruction, m.*
        """

    static func index(_ rows: PostgresRows, _ row: Int) -> IndexRecord {
        IndexRecord(
            id: Int64(rows.int(row, "index_id")!),
            name: rows.value(row, "index_name")!,
            collectionId: Int64(rows.int(row, "collection_id")!),
            model: Self.model(rows, row),
            vectorTable: rows.value(row, "vector_table")!,
            hnsw: HnswParameters(
                m: rows.int(row, "hnsw_m") ?? 16,
                efConstruction: rows.int(row, "hnsw_ef_construction") ?? 64
            ),
            efSearch: rows.int(row, "ef_search") ?? HnswParameters.defaultEfSearch,
            hasHnsw: rows.value(row, "has_hnsw") == "t",
            storage: rows.value(row, "storage").flatMap(VectorStorage.init(rawValue:)) ?? .vector,
            instruction: rows.value(row, "index_instruction")
        )
    }
}
