import Corpus
import Foundation
import Logging
import PostgresClient
import Store
import Synchronization
import ZeroMQ

/// Writes uploaded chunks into `job_documents` on a thread and a database connection of its own,
/// in the order they came, so that the coordinator's loop goes on answering (status, workers'
/// heartbeats and commits) while a chunk is written: with millions of rows staged, a 500-document
/// chunk waited up to 3.4 s behind PostgreSQL's checkpoints, and so did every request behind it.
/// A big job's seal steps run here too (``enqueue(seal:)``, ``takeSealed()``), each a bounded
/// transaction that took up to 1.1 s on the loop at 1,000,000 documents; and so does the deletion
/// of finished jobs' staged documents, in steps of `cleanupBatch` rows (a step took seconds on the
/// loop while PostgreSQL checkpointed beside an HNSW build).
///
/// The loop hands a chunk in with ``enqueue(_:)``. Each chunk done rings ``bell`` (an inproc PAIR
/// socket, polled with the loop's others), and the loop takes the outcomes, in order, with
/// ``takeFinished()`` and replies. After a chunk of a job fails, or once the loop ``cancel(job:)``s it,
/// that job's later chunks are not written (``Outcome/skipped``): its documents would have a gap.
///
/// Unchecked: ``bell`` is used on the loop's thread only; the rest is immutable or behind a mutex.
final class UploadStager: @unchecked Sendable {
    struct Chunk: Sendable {
        var job: Int64
        /// The number of the chunk's first document in its job.
        var firstSeq: Int
        var documents: [Document]
        /// The client that sent it (its routing id), to reply to.
        var peer: Data
        /// Set when the loop refused the chunk while the client had others here: the refusal is
        /// its reply, in its turn (a client takes its replies in the order of its requests).
        var refusal: String?
    }

    enum Outcome: Sendable {
        /// Written; documents whose id the job had already (recorded as rejected with --skip-invalid).
        case staged(duplicates: [JobStore.Rejection])
        case failed(StoreError)
        /// Not written: an earlier chunk of its job failed, or the job was cancelled.
        case skipped
        /// Refused by the loop (``Chunk/refusal``).
        case refused(String)
    }

    /// One step of sealing a big job (``JobStore/sealStep(job:index:from:through:shardSize:)``).
    struct SealStep: Sendable {
        var job: Int64
        var index: IndexRecord
        var from: Int
        var through: Int
        var shardSize: Int
    }

    struct Sealed: Sendable {
        var step: SealStep
        /// The documents dropped as unchanged and the shards cut, or why the step was not done.
        var outcome: Result<JobStore.SealStepCounts, StoreError>
    }

    struct Finished: Sendable {
        var job: Int64
        var peer: Data
        var count: Int
        /// The chunk's first and last line in the corpus file, for messages.
        var lines: ClosedRange<Int>?
        var outcome: Outcome
    }

    private struct State: Sendable {
        mutating func skip(_ job: Int64) {
            skipping.insert(job)
            if skipping.count > UploadStager.skippingKept, let oldest = skipping.min() { skipping.remove(oldest) }
        }

        var waiting: [Chunk] = []
        var finished: [Finished] = []
        var seals: [SealStep] = []
        var sealed: [Sealed] = []
        /// Jobs whose chunks are skipped from now on (the latest ``skippingKept``).
        var skipping: Set<Int64> = []
        var stopped = false
        /// A job finished or failed: look for staged documents to delete now, not in 5 s.
        var cleanUpSoon = false
    }

    /// Readable when chunks are done: poll it with the loop's sockets, then ``takeFinished()``.
    let bell: ZeroMQSocket
    private let address = "inproc://upload-stager-\(UUID().uuidString)"
    private let context: ZeroMQContext
    private let url: String
    private let state = Mutex(State())
    private let statement = Mutex<PostgresCancelHandle?>(nil)
    private let wake = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)
    private let logger: Logger
    /// Its connection's name in `pg_stat_activity`.
    static let applicationName = "driftless upload stager"
    /// Jobs remembered as skipped: a job's chunks are through long before this many more failed.
    static let skippingKept = 1024

    /// Seconds between two steps of deleting a finished job's staged documents, and between two
    /// looks for such a job when there was none.
    static let cleanupPause = 0.25
    static let cleanupLookPause = 5.0
    private let cleanupBatch: Int

    /// Starts the thread; it connects to `url` at its first work (and again after a lost connection).
    init(context: ZeroMQContext, url: String, cleanupBatch: Int, logger: Logger) throws(ZeroMQError) {
        self.cleanupBatch = cleanupBatch
        self.context = context
        self.url = url
        self.logger = logger
        bell = try context.socket(.pair)
        try bell.bind(address)
        let thread = Thread { [self] in work() }
        thread.name = "upload-stager"
        thread.start()
    }

    func enqueue(_ chunk: Chunk) {
        state.withLock { $0.waiting.append(chunk) }
        wake.signal()
    }

    /// A seal step, done after the chunks and steps queued before it (in turn with later chunks).
    func enqueue(seal step: SealStep) {
        state.withLock { $0.seals.append(step) }
        wake.signal()
    }

    /// A job finished, failed or was cancelled: its staged documents are deleted from now on.
    func cleanUpSoon() {
        state.withLock { $0.cleanUpSoon = true }
        wake.signal()
    }

    /// `job`'s chunks not yet written are skipped (the upload is being abandoned).
    func cancel(job: Int64) { state.withLock { $0.skip(job) } }

    /// The chunks done since the last call, in the order they were queued.
    func takeFinished() -> [Finished] {
        while (try? bell.receive(timeout: .zero)) != nil {}
        return state.withLock { state in
            defer { state.finished = [] }
            return state.finished
        }
    }

    /// The seal steps done (or not) since the last call, in the order they were queued.
    func takeSealed() -> [Sealed] {
        state.withLock { state in
            defer { state.sealed = [] }
            return state.sealed
        }
    }

    /// Stops the thread, cancelling the chunk being written (its transaction rolls back; the
    /// upload is failed at the next start, as any left open). False when it had not ended in `seconds`.
    @discardableResult
    func stop(waitingUpTo seconds: Double) -> Bool {
        state.withLock { $0.stopped = true }
        statement.withLock { $0 }?.cancel()
        wake.signal()
        return ended.wait(timeout: .now() + .milliseconds(Int(seconds * 1000))) == .success
    }

    private func work() {
        defer { ended.signal() }
        // This end of the bell lives on this thread only.
        guard let ringer = try? context.socket(.pair), (try? ringer.connect(address)) != nil else {
            logger.critical("the upload stager cannot reach the coordinator's loop; uploads will not be acknowledged")
            return
        }
        var connection: PostgresConnection?
        var cleanup = StagingCleanup()
        while true {
            _ = wake.wait(timeout: .now() + .milliseconds(Int(cleanup.pause * 1000)))
            // A chunk and a seal step in turn: an upload's stream of chunks does not hold another
            // job's seal back, nor a seal an upload.
            while case let (chunk, step) = state.withLock({
                $0.stopped ? (nil, nil) : ($0.waiting.first, $0.seals.first)
            }),
                chunk != nil || step != nil
            {
                if let chunk { write(chunk, &connection) }
                if let step {
                    let outcome = run(&connection) { db throws(StoreError) in
                        try JobStore(db).sealStep(
                            job: step.job,
                            index: step.index,
                            from: step.from,
                            through: step.through,
                            shardSize: step.shardSize
                        )
                    }
                    state.withLock { state in
                        state.seals.removeFirst()
                        state.sealed.append(Sealed(step: step, outcome: outcome))
                    }
                }
                // A full pipe (the loop behind) needs no second ring: it takes every outcome at once.
                try? ringer.send([Data()], wait: false)
            }
            if state.withLock({ $0.stopped }) { return }
            cleanUp(&cleanup, &connection)
        }
    }

    /// The deletion of a finished job's staged documents, step by step.
    private struct StagingCleanup {
        /// The job, the seq its next step starts at, the steps taken and the rows dropped so far.
        var current: (job: Int64, next: Int, steps: Int, dropped: Int)?
        var nextLook = ContinuousClock.now
        /// How long the thread may wait for work before the next step or look.
        var pause: Double {
            if current != nil { return UploadStager.cleanupPause }
            return max(0.001, min(UploadStager.cleanupLookPause, (nextLook - ContinuousClock.now).seconds))
        }
    }

    /// One step of deleting the first finished job's staged documents (a bounded statement by the
    /// primary key), or a look for such a job when it is time.
    private func cleanUp(_ cleanup: inout StagingCleanup, _ connection: inout PostgresConnection?) {
        let soon = state.withLock { state in
            defer { state.cleanUpSoon = false }
            return state.cleanUpSoon
        }
        let batch = cleanupBatch
        if cleanup.current == nil {
            guard soon || ContinuousClock.now >= cleanup.nextLook else { return }
            switch run(&connection, { db throws(StoreError) in try JobStore(db).finishedStaging() }) {
            case .success(let job?):
                cleanup.current = (job, 0, 0, 0)
            case .success(nil):
                cleanup.nextLook = .now + .seconds(Self.cleanupLookPause)
                return
            case .failure(let error):
                cleanupFailed(error, &cleanup)
                return
            }
        }
        guard var step = cleanup.current else { return }
        let outcome = run(&connection) { db throws(StoreError) -> (dropped: Int, following: Int?) in
            let store = JobStore(db)
            let dropped = try store.dropStaged(job: step.job, seqs: step.next..<(step.next + batch))
            guard dropped == 0 else { return (dropped, nil) }
            // A range with none: the end, or a gap (unchanged documents the seal removed).
            let following = try store.nextStaged(job: step.job, from: step.next + batch)
            if following == nil { try store.markStagingDropped(job: step.job) }
            return (0, following)
        }
        switch outcome {
        case .failure(let error):
            cleanupFailed(error, &cleanup)
        case .success(let (dropped, following)):
            step.steps += 1
            step.dropped += dropped
            step.next += batch
            if dropped > 0 {
                cleanup.current = step
            } else if let following {
                step.next = following
                cleanup.current = step
            } else {
                cleanup.current = nil
                logger.info(
                    "finished job's staged documents dropped",
                    metadata: ["job": "\(step.job)", "documents": "\(step.dropped)", "steps": "\(step.steps)"]
                )
            }
        }
    }

    private func cleanupFailed(_ error: StoreError, _ cleanup: inout StagingCleanup) {
        cleanup.current = nil
        cleanup.nextLook = .now + .seconds(Self.cleanupLookPause)
        guard !state.withLock({ $0.stopped }) else { return }
        logger.warning(
            "deleting finished jobs' staged documents: \(error); tried again in \(Int(Self.cleanupLookPause)) s"
        )
    }

    private func write(_ chunk: Chunk, _ connection: inout PostgresConnection?) {
        let outcome: Outcome
        if let refusal = chunk.refusal {
            outcome = .refused(refusal)
        } else if state.withLock({ $0.skipping.contains(chunk.job) }) {
            outcome = .skipped
        } else {
            switch run(
                &connection,
                { db throws(StoreError) in
                    try JobStore(db).stage(job: chunk.job, firstSeq: chunk.firstSeq, documents: chunk.documents)
                }
            ) {
            case .success(let duplicates): outcome = .staged(duplicates: duplicates)
            case .failure(let error): outcome = .failed(error)
            }
        }
        let lines = chunk.documents.first.map { $0.line...(chunk.documents.last?.line ?? $0.line) }
        state.withLock { state in
            state.waiting.removeFirst()
            if case .failed = outcome { state.skip(chunk.job) }
            state.finished.append(
                Finished(job: chunk.job, peer: chunk.peer, count: chunk.documents.count, lines: lines, outcome: outcome)
            )
        }
    }

    /// Runs `work` (one transaction). A connection that was idle may have been closed since
    /// (PostgreSQL restarted, an idle timeout): the work is tried once more on a new one. It rolled
    /// back, so nothing is written twice (and were the first commit's answer lost, a chunk's ids
    /// would be found duplicates, a seal step's documents already cut).
    private func run<T>(
        _ connection: inout PostgresConnection?,
        _ work: (PostgresConnection) throws(StoreError) -> T
    ) -> Result<T, StoreError> {
        var reused = connection != nil
        while true {
            do throws(StoreError) {
                let db: PostgresConnection
                if let connection { db = connection } else { db = try connect() }
                connection = db
                return .success(try work(db))
            } catch {
                guard error.isConnectionLoss else { return .failure(error) }
                connection = nil
                statement.withLock { $0 = nil }
                guard reused, !state.withLock({ $0.stopped }) else { return .failure(error) }
                logger.warning("the upload stager's connection was lost; the work is tried on a new one: \(error)")
                reused = false
            }
        }
    }

    private func connect() throws(StoreError) -> PostgresConnection {
        do {
            let connection = try PostgresConnection(
                url: url,
                settings: DatabaseTimeouts.stager + [("application_name", Self.applicationName)],
                connectTimeout: DatabaseTimeouts.coordinatorConnectSeconds
            )
            statement.withLock { $0 = connection.cancelHandle }
            return connection
        } catch {
            throw .database(error, during: "connecting the upload stager to \(PostgresURL.redacted(url))")
        }
    }
}
