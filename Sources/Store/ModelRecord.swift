/// A registered model: what the registry knows of it.
public struct ModelRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var architecture: String
    public var dimension: Int
    public var pooling: String
    public var normalized: Bool
    public var maxSequenceLength: Int
    /// The prompts as a JSON object's text.
    public var prompts: String
    public var weightsHash: String

    public init(
        id: Int64 = 0,
        name: String,
        architecture: String,
        dimension: Int,
        pooling: String,
        normalized: Bool,
        maxSequenceLength: Int,
        prompts: String,
        weightsHash: String
    ) {
        self.id = id
        self.name = name
        self.architecture = architecture
        self.dimension = dimension
        self.pooling = pooling
        self.normalized = normalized
        self.maxSequenceLength = maxSequenceLength
        self.prompts = prompts
        self.weightsHash = weightsHash
    }
}

/// An index: a collection embedded by a model, its vectors in `vectorTable`.
public struct IndexRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var collectionId: Int64
    public var model: ModelRecord
    public var vectorTable: String
    /// HNSW parameters: those of the HNSW index in place, or those the next build uses.
    public var hnsw = HnswParameters()
    /// The `hnsw.ef_search` a search uses unless told otherwise.
    public var efSearch = HnswParameters.defaultEfSearch
    /// Whether an HNSW index is in place (else every search is a sequential scan).
    public var hasHnsw = false

    public init(
        id: Int64,
        name: String,
        collectionId: Int64,
        model: ModelRecord,
        vectorTable: String,
        hnsw: HnswParameters = HnswParameters(),
        efSearch: Int = HnswParameters.defaultEfSearch,
        hasHnsw: Bool = false
    ) {
        self.id = id
        self.name = name
        self.collectionId = collectionId
        self.model = model
        self.vectorTable = vectorTable
        self.hnsw = hnsw
        self.efSearch = efSearch
        self.hasHnsw = hasHnsw
    }

    /// The HNSW index's name in PostgreSQL.
    public var hnswIndexName: String { vectorTable + "_hnsw" }
}
