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
    /// How the vectors are stored (fixed when the index is made).
    public var storage = VectorStorage.vector

    public init(
        id: Int64,
        name: String,
        collectionId: Int64,
        model: ModelRecord,
        vectorTable: String,
        hnsw: HnswParameters = HnswParameters(),
        efSearch: Int = HnswParameters.defaultEfSearch,
        hasHnsw: Bool = false,
        storage: VectorStorage = .vector
    ) {
        self.id = id
        self.name = name
        self.collectionId = collectionId
        self.model = model
        self.vectorTable = vectorTable
        self.hnsw = hnsw
        self.efSearch = efSearch
        self.hasHnsw = hasHnsw
        self.storage = storage
    }

    /// Refuses a submission asking for another storage than the index's (fixed when it was made).
    public func require(storage requested: VectorStorage?) throws(StoreError) {
        guard let requested, requested != storage else { return }
        throw .invalid(
            "index \(name) stores its vectors as \(storage.rawValue), not \(requested.rawValue): the storage is fixed when an index is made"
        )
    }

    /// The HNSW index's name in PostgreSQL.
    public var hnswIndexName: String { vectorTable + "_hnsw" }
}

/// How an index's vector table stores its vectors: pgvector's `vector` (float32, the default) or
/// `halfvec` (float16: half the bytes of the table and of its HNSW graph). Queries and commits
/// pass `vector` values either way: pgvector casts them to `halfvec` implicitly.
public enum VectorStorage: String, Sendable, Equatable, CaseIterable {
    case vector
    case halfvec

    /// The column type for `dimension` dimensions.
    public func columnType(dimension: Int) -> String { "\(rawValue)(\(dimension))" }

    /// The HNSW operator class for cosine distance.
    public var cosineOperatorClass: String { "\(rawValue)_cosine_ops" }

    /// Bytes a vector of `dimension` takes in a row (its header included).
    public func bytes(dimension: Int) -> Int { 8 + dimension * (self == .vector ? 4 : 2) }

    /// Kept in the row (STORAGE PLAIN) rather than out of line in TOAST, where a row still fits a page.
    public func fitsInRow(dimension: Int) -> Bool { bytes(dimension: dimension) <= 6008 }
}
