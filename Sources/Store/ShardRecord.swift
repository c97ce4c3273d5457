import JobStates

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
    public init(id: Int64, index: IndexRecord, state: JobState) {
        self.id = id
        self.index = index
        self.state = state
    }

    public var id: Int64
    public var index: IndexRecord
    public var state: JobState
}

/// A lease that exists in the database (after a coordinator restart, held by a worker it does not know yet).
public struct LeaseRecord: Sendable, Equatable {
    public var token: Int64
    public var shard: Int64
    public var worker: String
}
