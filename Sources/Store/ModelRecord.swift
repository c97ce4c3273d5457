import Foundation

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
    /// The number format its dense layers multiply in: "fp32", "bf16" or "int8" (``ModelName``).
    public var precision: String

    public init(
        id: Int64 = 0,
        name: String,
        architecture: String,
        dimension: Int,
        pooling: String,
        normalized: Bool,
        maxSequenceLength: Int,
        prompts: String,
        weightsHash: String,
        precision: String = "fp32"
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
        self.precision = precision
    }
}

/// A registered model's name: a model folder's name, or `FOLDER@D` for the first `D`
/// dimensions of that model's vectors, re-normalised (a Matryoshka cut: models trained with
/// Matryoshka representation learning keep most of their quality in a prefix), and either with
/// `:bf16` or `:int8` for the model run in that precision (`FOLDER@D:int8`): each is a model of
/// its own in the registry, so one index holds vectors of one precision.
public struct ModelName: Sendable, Equatable {
    /// The model folder (and the name workers announce it by).
    public let folder: String
    /// The Matryoshka dimension, when the name asks for one.
    public let dimension: Int?
    /// "bf16" or "int8" when the name asks for one; nil for float32.
    public let precision: String?

    /// The precisions a name may ask for; float32 is a name without one.
    public static let lowPrecisions = ["bf16", "int8"]
    /// Every precision a model may run in.
    public static let precisions = ["fp32"] + lowPrecisions

    public init(_ name: String) {
        var rest = Substring(name)
        if let colon = rest.lastIndex(of: ":"), Self.lowPrecisions.contains(String(rest[rest.index(after: colon)...])) {
            precision = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
        } else {
            precision = nil
        }
        if let at = rest.lastIndex(of: "@"), let dimension = Int(rest[rest.index(after: at)...]), dimension > 0 {
            folder = String(rest[..<at])
            self.dimension = dimension
        } else {
            folder = String(rest)
            dimension = nil
        }
    }

    /// The name of `folder`'s model cut to `dimension`.
    public static func variant(_ folder: String, dimension: Int) -> String { "\(folder)@\(dimension)" }

    /// `name` run in `precision` ("fp32" leaves it as it is).
    public static func variant(_ name: String, precision: String) -> String {
        precision == "fp32" ? name : "\(name):\(precision)"
    }

    /// How a worker that can run this name's model announces it: the folder, with `:PRECISION`
    /// for a lowered one (the Matryoshka cut needs nothing more of a worker).
    public var workerKey: String { Self.variant(folder, precision: precision ?? "fp32") }
}

extension ModelRecord {
    /// The model's "query" prompt, from the recorded prompts.
    public var queryPrompt: String? {
        (try? JSONSerialization.jsonObject(with: Data(prompts.utf8)) as? [String: String])?["query"]
    }

    /// The model folder the record's vectors come from (its name less any `@D` or `:PRECISION`).
    public var folderName: String { ModelName(name).folder }
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
    /// The task of the index's queries, filled into the query prompt of models that take one
    /// (nil: each model's own prompt). Fixed when the index is made.
    public var instruction: String?

    public init(
        id: Int64,
        name: String,
        collectionId: Int64,
        model: ModelRecord,
        vectorTable: String,
        hnsw: HnswParameters = HnswParameters(),
        efSearch: Int = HnswParameters.defaultEfSearch,
        hasHnsw: Bool = false,
        storage: VectorStorage = .vector,
        instruction: String? = nil
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
        self.instruction = instruction
    }

    /// Refuses a submission asking for another instruction than the index's.
    public func require(instruction requested: String?) throws(StoreError) {
        guard let requested, requested != instruction else { return }
        throw .invalid(
            "index \(name) was made with \(instruction.map { "the instruction \"\($0)\"" } ?? "no instruction"), "
                + "not \"\(requested)\": the instruction is fixed when an index is made (coord query --instruction tries another)"
        )
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
