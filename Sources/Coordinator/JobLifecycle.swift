import Foundation
import JobStates
import Store

/// Every job the coordinator holds, from its upload to its HNSW build, as a pure state machine:
/// no database, no sockets, no clock of its own (times come in with the events). The loop feeds
/// it what happened (a client's request, a seal step done, a completion check's answer, a build's
/// end) and carries out what it decides, as it does for shards with ``ShardScheduler``.
///
///     receiving ──seal (small)──────────────▶ running ──all shards done──▶ indexing ──▶ (done)
///         │      └─seal (big)─▶ sealing ──▶ ─┘           └─urgent, or another job of its index runs─▶ (done)
///         └─abandoned, idle, staging failed─▶ (failed)
public struct JobLifecycle {
    public struct Limits: Sendable {
        /// Documents sealed per step; a bigger upload is sealed in steps.
        public var sealBatch = 10_000
        /// An upload that sends nothing for this long is abandoned.
        public var uploadIdleSeconds = 300.0
        /// Open uploads one client connection may have, and the coordinator in all.
        public var uploadsPerClient = 8
        public var uploadsInAll = 256

        public init(sealBatch: Int = 10_000, uploadIdleSeconds: Double = 300) {
            self.sealBatch = sealBatch
            self.uploadIdleSeconds = uploadIdleSeconds
        }
    }

    public enum Phase: Equatable, Sendable {
        /// Documents arriving; `staged` so far.
        case receiving
        /// Sealed a step at a time: documents `0..<next` checked of `count`.
        case sealing(next: Int, count: Int)
        /// Shards being dealt.
        case running
        /// Its HNSW index being built; `retry` when a build ended with the database away.
        case indexing(retry: Bool)
    }

    public struct Job: Sendable {
        public let id: Int64
        public let index: IndexRecord
        public let shardSize: Int
        /// A query waits for it: dealt first, done without an HNSW build.
        public let urgent: Bool
        public var phase: Phase
        /// Documents staged so far.
        public var staged = 0
        /// Documents handed to the stager and not yet staged (or failed): the next chunk's first
        /// document is number `staged + pending`.
        public var pending = 0
        /// Documents handed to the stager that it did not stage (failed or skipped): the upload
        /// has a gap and may not be sealed.
        public var lost = 0
        /// The secret handed to the client that opened the upload, and its connection.
        public var token: UploadToken?
        public var owner: Data?
        /// When the client last sent something for the upload.
        public var lastActivity = 0.0
        /// A seal step of it is with the stager: the next is handed over once it is done.
        public var sealStepHanded = false

        public var record: JobRecord {
            if case .indexing = phase { return JobRecord(id: id, index: index, state: .indexing) }
            return JobRecord(id: id, index: index, state: .running)
        }
    }

    public let limits: Limits
    public private(set) var jobs: [Int64: Job] = [:]
    /// Running jobs to ask the database about (after a commit, or when the database came back).
    public private(set) var toCheck: Set<Int64> = []

    public init(limits: Limits = Limits()) { self.limits = limits }

    // MARK: Uploads

    /// Why `owner` may not open another upload now, or nil.
    public func refusalToOpen(owner: Data) -> String? {
        let open = jobs.values.filter { $0.phase == .receiving }
        let mine = open.filter { $0.owner == owner }.count
        if mine >= limits.uploadsPerClient {
            return "this client already has \(mine) uploads open (at most \(limits.uploadsPerClient)); seal them first"
        }
        if open.count >= limits.uploadsInAll {
            return
                "the coordinator has \(open.count) uploads open (at most \(limits.uploadsInAll)); try again when some are sealed"
        }
        return nil
    }

    /// A job was created for an upload: returns the token only `owner` is given.
    public mutating func opened(
        job: Int64,
        index: IndexRecord,
        shardSize: Int,
        urgent: Bool,
        owner: Data,
        now: Double
    ) -> UploadToken {
        let token = UploadToken()
        jobs[job] = Job(
            id: job,
            index: index,
            shardSize: shardSize,
            urgent: urgent,
            phase: .receiving,
            token: token,
            owner: owner,
            lastActivity: now
        )
        return token
    }

    public enum UploadRefusal: Error, Equatable {
        case notReceiving(Int64)
        case notOwner(Int64)

        public var message: String {
            switch self {
            case .notReceiving(let job): "job \(job) is not receiving documents"
            case .notOwner(let job):
                "job \(job) was opened by another client: only it may add documents to it or seal it"
            }
        }
    }

    /// The upload `job`, when `token` is its token.
    public func upload(_ job: Int64, token: String) throws(UploadRefusal) -> Job {
        guard let open = jobs[job], open.phase == .receiving, let secret = open.token else {
            throw .notReceiving(job)
        }
        guard secret.matches(token) else { throw .notOwner(job) }
        return open
    }

    /// A chunk of `count` documents of `job` goes to the stager: returns its first document's number.
    public mutating func queued(_ job: Int64, count: Int, now: Double) -> Int {
        guard jobs[job]?.phase == .receiving else { return 0 }
        let first = jobs[job]!.staged + jobs[job]!.pending
        jobs[job]!.pending += count
        jobs[job]!.lastActivity = now
        return first
    }

    /// A queued chunk of `count` documents of `job` was staged (`true`) or not (failed, skipped).
    /// Returns the documents staged so far, nil when the job is no longer receiving.
    @discardableResult
    public mutating func staged(_ job: Int64, count: Int, stored: Bool = true, now: Double) -> Int? {
        guard jobs[job]?.phase == .receiving else { return nil }
        jobs[job]!.pending = max(0, jobs[job]!.pending - count)
        if stored { jobs[job]!.staged += count } else { jobs[job]!.lost += count }
        jobs[job]!.lastActivity = now
        return jobs[job]!.staged
    }

    /// The client sent something else for `job` (rejected lines): it is still there.
    public mutating func touched(_ job: Int64, now: Double) {
        guard jobs[job]?.phase == .receiving else { return }
        jobs[job]!.lastActivity = now
    }

    public enum SealDecision: Equatable {
        /// The client's count and the coordinator's differ: nothing changes.
        case refuse(String)
        /// Small enough for one transaction: seal `documents` now, then ``sealed(_:)``.
        case now(documents: Int)
        /// Big: sealed in steps by the stager, one at a time (``sealSteps()``); the client polls status.
        case inSteps(documents: Int)
    }

    /// The client asks to seal `job`, having sent `count` documents.
    public mutating func seal(_ job: Int64, count: Int) -> SealDecision {
        guard let open = jobs[job], open.phase == .receiving else { return .refuse("job \(job) is not receiving") }
        guard open.pending == 0 else {
            return .refuse(
                "job \(job): \(open.pending) documents are still being staged; seal once every chunk is acknowledged"
            )
        }
        guard open.lost == 0 else {
            return .refuse("job \(job): \(open.lost) documents sent were not staged; submit it again")
        }
        guard count == open.staged else {
            return .refuse("job \(job): the client sent \(count) documents but \(open.staged) arrived")
        }
        guard open.staged <= limits.sealBatch else {
            jobs[job]!.phase = .sealing(next: 0, count: open.staged)
            return .inSteps(documents: open.staged)
        }
        return .now(documents: open.staged)
    }

    /// The next step of each job being sealed in steps, none of whose steps is with the stager:
    /// documents `from...through`. Hand each over with ``sealStepHanded(_:)``.
    public func sealSteps() -> [(job: Job, from: Int, through: Int)] {
        jobs.values.sorted { $0.id < $1.id }.compactMap { job in
            guard case .sealing(let next, let count) = job.phase, next < count, !job.sealStepHanded else { return nil }
            return (job, next, min(next + limits.sealBatch, count) - 1)
        }
    }

    /// The next step of `job` went to the stager: no other is handed over until it is done or not.
    public mutating func sealStepHanded(_ job: Int64) {
        guard case .sealing = jobs[job]?.phase else { return }
        jobs[job]!.sealStepHanded = true
    }

    /// The step handed over was not done (the database was away or busy): it is handed over again.
    public mutating func sealStepNotDone(_ job: Int64) {
        guard jobs[job] != nil else { return }
        jobs[job]!.sealStepHanded = false
    }

    /// Jobs whose every seal step is done: ready for ``sealed(_:)`` once the database has started them.
    public var sealStepsDone: [Job] {
        jobs.values.sorted { $0.id < $1.id }.filter {
            if case .sealing(let next, let count) = $0.phase { return next >= count && !$0.sealStepHanded }
            return false
        }
    }

    public mutating func sealStepDone(_ job: Int64, through: Int) {
        guard case .sealing(_, let count) = jobs[job]?.phase else { return }
        jobs[job]!.phase = .sealing(next: through + 1, count: count)
        jobs[job]!.sealStepHanded = false
    }

    /// The seal committed: the job's shards are dealt from now on.
    public mutating func sealed(_ job: Int64) {
        guard let open = jobs[job] else { return }
        switch open.phase {
        case .receiving, .sealing: break
        case .running, .indexing: return
        }
        jobs[job]!.phase = .running
        jobs[job]!.token = nil
        jobs[job]!.owner = nil
        toCheck.insert(job)
    }

    /// Uploads that sent nothing for `uploadIdleSeconds` (the client died, hung or was cut off).
    public func idleUploads(now: Double) -> [Int64] {
        jobs.values.filter { $0.phase == .receiving && now - $0.lastActivity > limits.uploadIdleSeconds }.map(\.id)
            .sorted()
    }

    /// The job ended without running (abandoned, failed while sealing, failed in the database).
    public mutating func dropped(_ job: Int64) {
        jobs.removeValue(forKey: job)
        toCheck.remove(job)
    }

    // MARK: Running

    /// A job found running (or building its index) at start.
    public mutating func resumed(_ record: JobRecord, indexing: Bool) {
        jobs[record.id] = Job(
            id: record.id,
            index: record.index,
            shardSize: 0,
            urgent: false,
            phase: indexing ? .indexing(retry: false) : .running
        )
        if !indexing { toCheck.insert(record.id) }
    }

    /// A running job's job: its index and model, for dealing its shards.
    public func running(_ job: Int64) -> Job? { jobs[job].flatMap { $0.phase == .running ? $0 : nil } }

    /// A shard of `job` (or of an unknown job: nil) was committed, or the database came back: ask.
    public mutating func check(_ job: Int64?) {
        if let job {
            if jobs[job]?.phase == .running { toCheck.insert(job) }
        } else {
            for job in jobs.values where job.phase == .running { toCheck.insert(job.id) }
        }
    }

    /// The database said `job` still has shards to do.
    public mutating func notComplete(_ job: Int64) { toCheck.remove(job) }

    public enum Completion: Equatable {
        /// Done without a build: a query waits for it (urgent), or another running job of its index
        /// builds the graph (building now would leave that job inserting one vector at a time).
        case done(reason: String)
        /// Its HNSW index is built next.
        case build
    }

    /// The database said every shard of `job` is done.
    public mutating func complete(_ job: Int64) -> Completion? {
        toCheck.remove(job)
        guard let finished = jobs[job], finished.phase == .running else { return nil }
        if finished.urgent {
            jobs.removeValue(forKey: job)
            return .done(reason: "urgent job done (no HNSW build)")
        }
        // (An upload still receiving does not count: it may never be sealed.)
        if jobs.values.contains(where: { $0.id != job && $0.phase == .running && $0.index.id == finished.index.id }) {
            jobs.removeValue(forKey: job)
            return .done(reason: "job done; another job of its index is running and builds the HNSW index")
        }
        jobs[job]!.phase = .indexing(retry: false)
        return .build
    }

    public enum BuildVerdict: Equatable {
        /// Mark the job done (failed, with this error, when there is one).
        case finish(error: String?)
        /// The database went away: built again once it is back (``buildsToRetry``).
        case retryLater
    }

    /// `job`'s build ended: succeeded (nil), lost its connection, or failed.
    public mutating func buildEnded(_ job: Int64, failure: (message: String, connectionLoss: Bool)?) -> BuildVerdict {
        guard case .indexing = jobs[job]?.phase else { return .finish(error: failure?.message) }
        if let failure, failure.connectionLoss {
            jobs[job]!.phase = .indexing(retry: true)
            return .retryLater
        }
        return .finish(error: failure?.message)
    }

    /// Marking `job` done failed (the database went away): built again once it is back.
    public mutating func finishFailed(_ job: Int64) {
        if case .indexing = jobs[job]?.phase { jobs[job]!.phase = .indexing(retry: true) }
    }

    /// Whether a build waits for the database to come back.
    public var hasBuildsToRetry: Bool { jobs.values.contains { $0.phase == .indexing(retry: true) } }

    /// Builds to queue again now that the database is back (each is then building).
    public mutating func buildsToRetry() -> [Job] {
        let retry = jobs.values.filter { $0.phase == .indexing(retry: true) }.sorted { $0.id < $1.id }
        for job in retry { jobs[job.id]!.phase = .indexing(retry: false) }
        return retry
    }

    /// The job is done or failed in the database: forgotten.
    public mutating func finished(_ job: Int64) {
        jobs.removeValue(forKey: job)
        toCheck.remove(job)
    }

    // MARK: Views

    public var runningCount: Int { jobs.values.filter { $0.phase == .running }.count }

    /// What `coord status` says a job is doing beyond its database state.
    public func phase(of job: Int64) -> String? {
        guard case .sealing(let next, let count) = jobs[job]?.phase else { return nil }
        return "sealing: \(next) of \(count) documents checked"
    }
}
