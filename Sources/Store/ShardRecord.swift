/// A shard as the coordinator deals it.
public struct ShardRecord: Sendable, Equatable {
    public var id: Int64
    public var job: Int64
    public var firstSeq: Int
    public var lastSeq: Int
    public var documentCount: Int
    public var attempts: Int

    public init(id: Int64, job: Int64, firstSeq: Int, lastSeq: Int, documentCount: Int, attempts: Int) {
        self.id = id
        self.job = job
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
        self.documentCount = documentCount
        self.attempts = attempts
    }
}

/// A job that is running: its index, and where its vectors go.
public struct JobRecord: Sendable, Equatable {
    public init(id: Int64, index: IndexRecord, state: String) {
        self.id = id
        self.index = index
        self.state = state
    }

    public var id: Int64
    public var index: IndexRecord
    public var state: String
}

/// A lease that exists in the database (after a coordinator restart, held by a worker it does not know yet).
public struct LeaseRecord: Sendable, Equatable {
    public var token: Int64
    public var shard: Int64
    public var worker: String
}

/// A document staged for a job, as read back to be dealt.
public struct StagedDocument: Sendable, Equatable {
    public init(
        seq: Int,
        line: Int,
        id: String,
        title: String,
        text: String,
        metadata: String,
        version: Int64 = 0,
        contentHash: String? = nil
    ) {
        self.contentHash = contentHash
        self.seq = seq
        self.version = version
        self.line = line
        self.id = id
        self.title = title
        self.text = text
        self.metadata = metadata
    }

    public var seq: Int
    public var line: Int
    public var id: String
    public var title: String
    public var text: String
    public var metadata: String
    /// Submission order across all jobs (migration 0008): a commit never replaces a newer version.
    public var version: Int64
    /// The content hash it was staged with (nil: computed from its fields at commit).
    public var contentHash: String?
}
