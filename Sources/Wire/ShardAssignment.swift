/// A shard dealt to a worker: which one, with which model, where to write it, and the lease that
/// fences the commit. The documents are not in it: the worker reads them from the database with
/// the lease (`LeasedShard`), so a shard's text does not pass through the coordinator.
public struct ShardAssignment: Codable, Sendable, Equatable {
    public var shard: Int64
    /// The lease token; the commit succeeds only while this lease exists.
    public var lease: Int64
    public var job: Int64
    public var index: String
    public var collectionId: Int64
    /// The index's vector table (`index_vectors_N`), with a `vector(dimension)` column.
    public var vectorTable: String
    public var model: String
    /// The registry's sha256 of the model's weights; a worker whose weights differ refuses the shard.
    public var weightsHash: String
    public var dimension: Int
    /// How many documents the shard holds (the worker checks it read them all).
    public var documentCount: Int

    public init(
        shard: Int64,
        lease: Int64,
        job: Int64,
        index: String,
        collectionId: Int64,
        vectorTable: String,
        model: String,
        weightsHash: String,
        dimension: Int,
        documentCount: Int
    ) {
        self.shard = shard
        self.lease = lease
        self.job = job
        self.index = index
        self.collectionId = collectionId
        self.vectorTable = vectorTable
        self.model = model
        self.weightsHash = weightsHash
        self.dimension = dimension
        self.documentCount = documentCount
    }
}
