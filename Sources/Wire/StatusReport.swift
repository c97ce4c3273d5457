#if canImport(JobStates)
import JobStates
#endif

/// What `coord status` shows (and prints with `--json`): jobs, their shards, workers, throughput.
public struct StatusReport: Codable, Sendable, Equatable {
    public var coordinator: String
    public var jobs: [JobStatus]
    public var workers: [WorkerStatus]
    /// How each index serves (in a report of every job; nil from older coordinators).
    public var indexes: [IndexStatus]?

    public init(coordinator: String, jobs: [JobStatus], workers: [WorkerStatus], indexes: [IndexStatus]? = nil) {
        self.coordinator = coordinator
        self.jobs = jobs
        self.workers = workers
        self.indexes = indexes
    }

    /// An index and its generations: what queries read and where submissions go.
    public struct IndexStatus: Codable, Sendable, Equatable {
        public var name: String
        /// native, project, fuse, rescore or promoted.
        public var mode: String
        /// The model that embeds its queries.
        public var queryModel: String
        /// The model submissions are embedded by first (the serving generation's).
        public var documentModel: String
        /// The vectors' generations: the serving one first, then those that follow it.
        public var generations: [String]

        public init(name: String, mode: String, queryModel: String, documentModel: String, generations: [String]) {
            self.name = name
            self.mode = mode
            self.queryModel = queryModel
            self.documentModel = documentModel
            self.generations = generations
        }
    }

    public struct JobStatus: Codable, Sendable, Equatable {
        public var id: Int64
        public var index: String
        public var model: String
        /// receiving, running, indexing (building the HNSW index), done, failed or cancelled.
        public var state: JobState
        public var source: String
        public var submittedDocs: Int
        public var unchangedDocs: Int
        /// A `mirror` job: documents deleted because its file lacks them (-1: none, see `ClientReply.Sealed`).
        public var deletedDocs: Int?
        /// Documents to embed in this job, and how many are in the index so far.
        public var totalDocs: Int
        public var doneDocs: Int
        public var rejectedDocs: Int
        /// Shard counts by state (pending, leased, done, split, failed).
        public var shards: [String: Int]
        public var elapsedSeconds: Double
        /// Documents per second since the job started (the whole job once done).
        public var docsPerSecond: Double
        public var etaSeconds: Double?
        public var error: String?
        /// What an `indexing` job is doing ("building the HNSW index: loading tuples 2500/5183").
        public var phase: String?

        public init(
            id: Int64,
            index: String,
            model: String,
            state: JobState,
            source: String,
            submittedDocs: Int,
            unchangedDocs: Int,
            totalDocs: Int,
            doneDocs: Int,
            rejectedDocs: Int,
            shards: [String: Int],
            elapsedSeconds: Double,
            docsPerSecond: Double,
            etaSeconds: Double?,
            error: String?,
            phase: String? = nil,
            deletedDocs: Int? = nil
        ) {
            self.deletedDocs = deletedDocs
            self.id = id
            self.index = index
            self.model = model
            self.state = state
            self.source = source
            self.submittedDocs = submittedDocs
            self.unchangedDocs = unchangedDocs
            self.totalDocs = totalDocs
            self.doneDocs = doneDocs
            self.rejectedDocs = rejectedDocs
            self.shards = shards
            self.elapsedSeconds = elapsedSeconds
            self.docsPerSecond = docsPerSecond
            self.etaSeconds = etaSeconds
            self.error = error
            self.phase = phase
        }

        public var isFinished: Bool { state.isFinished }
    }

    public struct WorkerStatus: Codable, Sendable, Equatable {
        public var id: String
        public var host: String
        public var threads: Int
        public var shardsInHand: Int
        public var documentsEmbedded: Int
        public var tokensEmbedded: Int
        /// Documents per second of embedding time (excludes waiting).
        public var docsPerSecond: Double
        public var lastSeenSecondsAgo: Double
        /// The name of the key it connected with (with CURVE keys).
        public var peer: String?
        /// What is wrong with it: models it cannot run (dealt none of their shards), a database
        /// that failed its last commit. Empty when healthy.
        public var problems: [String]
        /// The models (folder names) it runs, as the registry accepted them; nil from a
        /// coordinator older than this field.
        public var models: [String]?
        public var healthy: Bool { problems.isEmpty }

        public init(
            id: String,
            host: String,
            threads: Int,
            shardsInHand: Int,
            documentsEmbedded: Int,
            tokensEmbedded: Int,
            docsPerSecond: Double,
            lastSeenSecondsAgo: Double,
            peer: String? = nil,
            problems: [String] = [],
            models: [String]? = nil
        ) {
            self.problems = problems
            self.models = models
            self.id = id
            self.host = host
            self.threads = threads
            self.shardsInHand = shardsInHand
            self.documentsEmbedded = documentsEmbedded
            self.tokensEmbedded = tokensEmbedded
            self.docsPerSecond = docsPerSecond
            self.lastSeenSecondsAgo = lastSeenSecondsAgo
            self.peer = peer
        }
    }
}
