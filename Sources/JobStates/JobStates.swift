/// The states a job goes through, as the database (`jobs.state`), the wire and the terminal name them.
public enum JobState: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// Its documents are being uploaded (and then sealed).
    case receiving
    /// Its shards are dealt to the workers.
    case running
    /// Every shard is committed; the HNSW index is being built.
    case indexing
    case done
    case failed
    /// Stopped on purpose (`coord cancel`).
    case cancelled

    /// It will not change again.
    public var isFinished: Bool { self == .done || self == .failed || self == .cancelled }

    public var description: String { rawValue }
}

/// The states a shard goes through (`shards.state`).
public enum ShardState: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// Waiting to be dealt.
    case pending
    /// Dealt to a worker (a lease holds it).
    case leased
    /// Committed.
    case done
    /// Failed too often: replaced by its two halves.
    case split
    /// One document that fails every time: rejected.
    case failed

    /// Waiting for a worker, or in one's hands.
    public var isOpen: Bool { self == .pending || self == .leased }

    public var description: String { rawValue }
}
