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
/// transaction that took up to 1.1 s on the loop at 1,000,000 documents.
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

    /// Starts the thread; it connects to `url` at its first chunk (and again after a lost connection).
    init(context: ZeroMQContext, url: String, logger: Logger) throws(ZeroMQError) {
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
        while true {
            wake.wait()
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
        }
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
