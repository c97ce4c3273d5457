import Corpus
import Embedding
import Foundation
import Logging
import PostgresClient
import Store
import Telemetry
import Wire

/// The worker's compute thread: embeds each shard it is handed and commits it
/// (documents, vectors, completion) in one fenced transaction, retrying the
/// commit while the database is away. Owns its own database connection.
final class ShardEmbedder: @unchecked Sendable {
    private let configuration: WorkerConfiguration
    private let shelf: ModelShelf
    private let logger: Logger
    private let metrics: WorkerMetrics
    let inbox = Mailbox<ShardAssignment>()
    let outbox = Mailbox<WorkerMessage>()
    private let revokedLock = NSLock()
    private var revoked = Set<Int64>()
    private var database: PostgresConnection?
    /// Set on a stop past its grace: commits are cancelled and not retried (guarded by `revokedLock`).
    private var abandoning = false
    /// The connection of the read or commit in flight, to cancel it (guarded by `revokedLock`).
    private var statementInFlight: PostgresCancelHandle?
    private let finished = NSCondition()
    private var isFinished = false

    init(
        configuration: WorkerConfiguration,
        shelf: ModelShelf,
        database: PostgresConnection,
        metrics: WorkerMetrics,
        logger: Logger
    ) {
        self.configuration = configuration
        self.shelf = shelf
        self.database = database
        self.metrics = metrics
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in
            while let assignment = inbox.take() {
                outbox.put(process(assignment))
                outbox.put(.ready(credit: 1))
            }
            finished.lock()
            isFinished = true
            finished.broadcast()
            finished.unlock()
        }
        thread.name = "embed"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Whether the thread has ended (after `inbox.close`).
    var hasFinished: Bool {
        finished.lock()
        defer { finished.unlock() }
        return isFinished
    }

    func revoke(_ lease: Int64) {
        revokedLock.lock()
        revoked.insert(lease)
        revokedLock.unlock()
    }

    /// The worker is stopping and its grace is over: the commit in flight is cancelled, none is
    /// retried or started, and the shard goes back to the coordinator (`returned`).
    func abandonCommits() {
        revokedLock.lock()
        abandoning = true
        let statement = statementInFlight
        revokedLock.unlock()
        statement?.cancel()
    }

    private var isAbandoning: Bool {
        revokedLock.lock()
        defer { revokedLock.unlock() }
        return abandoning
    }

    /// Marks `connection`'s statement as the one a stop cancels; false when the worker's database
    /// work is abandoned already.
    private func running(on connection: PostgresConnection?) -> Bool {
        revokedLock.lock()
        defer { revokedLock.unlock() }
        statementInFlight = connection?.cancelHandle
        return !abandoning
    }

    private func isRevoked(_ lease: Int64) -> Bool {
        revokedLock.lock()
        defer { revokedLock.unlock() }
        return revoked.contains(lease)
    }

    private func process(_ shard: ShardAssignment) -> WorkerMessage {
        var log = logger
        log[metadataKey: "job"] = "\(shard.job)"
        log[metadataKey: "shard"] = "\(shard.shard)"
        log[metadataKey: "lease"] = "\(shard.lease)"
        if isRevoked(shard.lease) {
            log.info("shard dropped before starting: its lease was revoked")
            return .shardFenced(shard: shard.shard, lease: shard.lease)
        }
        let modelName = ModelName(shard.model)
        guard let entry = shelf.entries[modelName.folder] else {
            return .shardFailed(
                .init(
                    shard: shard.shard,
                    lease: shard.lease,
                    error: "model \(shard.model) is not on this worker",
                    fault: .worker
                )
            )
        }
        guard entry.announcement.weightsHash == shard.weightsHash else {
            let error =
                "refused: this worker's \(shard.model) weights (sha256 \(entry.announcement.weightsHash.prefix(16))…) differ "
                + "from the registry's (\(shard.weightsHash.prefix(16))…)"
            log.error("\(error)")
            return .shardFailed(.init(shard: shard.shard, lease: shard.lease, error: error, fault: .worker))
        }
        // A Matryoshka name (FOLDER@D) keeps the first D dimensions of the folder's vectors.
        let dimension = modelName.dimension ?? entry.announcement.dimension
        guard dimension == shard.dimension, dimension <= entry.announcement.dimension else {
            return .shardFailed(
                .init(
                    shard: shard.shard,
                    lease: shard.lease,
                    error:
                        "model \(shard.model) is \(dimension)-d here (of \(entry.announcement.dimension)), \(shard.dimension)-d in the registry",
                    fault: .worker
                )
            )
        }
        let documents: [Document]
        let leased = LeasedShard(shard: shard.shard, lease: shard.lease, documentCount: shard.documentCount)
        switch withDatabase(
            "reading the shard",
            log: log,
            { connection throws(StoreError) in
                try leased.read(from: connection)
            }
        ) {
        case .success(.documents(let read)):
            documents = read
        case .success(.fenced(let reason)):
            metrics.shardsFenced.increment()
            log.info("shard dropped before starting: \(reason)")
            return .shardFenced(shard: shard.shard, lease: shard.lease)
        case .failure(.cancelled(let reason)):
            return givenBack(shard, reason: reason, log: log)
        case .failure(let error):
            // Not the documents' (none was read) and not this worker's model: the database's.
            metrics.shardsFailed.increment()
            log.error("reading the shard failed: \(error)")
            return .shardFailed(.init(shard: shard.shard, lease: shard.lease, error: "\(error)", fault: .database))
        }
        let clock = ContinuousClock()
        let embedStart = clock.now
        let embedder: SentenceEmbedder
        do { embedder = try shelf.embedder(shard.model) } catch {
            // The model folder, not the documents: no shard of this model can work here.
            metrics.shardsFailed.increment()
            let reason = "model \(shard.model) cannot be loaded on this worker: \(error)"
            log.error("\(reason)")
            return .shardFailed(.init(shard: shard.shard, lease: shard.lease, error: reason, fault: .worker))
        }
        let vectors: [[Float]]
        let tokenCount: Int
        do {
            if let failing = configuration.faults.failingDocument, documents.contains(where: { $0.id == failing }) {
                throw WorkerError.setting("injected failure (DRIFTLESS_FAULTS) for document \(failing)")
            }
            let model = embedder.model
            let prompt = model.documentPrompt
            let texts = documents.map(\.embeddingText)
            let tokens = embedder.tokenize(texts, prompt: prompt)
            tokenCount = tokens.reduce(0) { $0 + $1.count }
            vectors = try embedder.embed(tokens: tokens, promptTokens: model.promptTokenCount(prompt, task: nil))
        } catch {
            // Not certainly the documents' (one worker's say-so): a lone document is rejected only
            // when a second worker fails it too.
            metrics.shardsFailed.increment()
            log.error("shard failed: \(error)")
            return .shardFailed(.init(shard: shard.shard, lease: shard.lease, error: "\(error)", fault: .document))
        }
        if let slow = configuration.faults.slowShard, documents.count >= slow.documents {
            log.warning("injected delay (DRIFTLESS_FAULTS): \(slow.seconds) s before committing")
            Thread.sleep(forTimeInterval: slow.seconds)
        }
        let embedSeconds = (clock.now - embedStart).seconds
        metrics.embedSeconds.record(clock.now - embedStart)

        let commit = ShardCommit(
            shard: shard.shard,
            lease: shard.lease,
            job: shard.job,
            worker: configuration.id,
            collectionId: shard.collectionId,
            vectorTable: shard.vectorTable,
            dimension: shard.dimension,
            documents: documents,
            vectors: vectors
        )
        let commitStart = clock.now
        switch withDatabase(
            "the commit",
            log: log,
            { connection throws(StoreError) in try commit.write(to: connection) }
        ) {
        case .success(.committed):
            let commitSeconds = (clock.now - commitStart).seconds
            metrics.commitSeconds.record(clock.now - commitStart)
            metrics.shardsDone.increment()
            metrics.documents.increment(by: Int64(vectors.count))
            metrics.tokens.increment(by: Int64(tokenCount))
            metrics.docsPerSecond.set(Double(vectors.count) / max(embedSeconds, 1e-9))
            metrics.tokensPerSecond.set(Double(tokenCount) / max(embedSeconds, 1e-9))
            log.debug(
                "shard committed",
                metadata: ["documents": "\(vectors.count)", "embed_s": "\(String(format: "%.2f", embedSeconds))"]
            )
            return .shardDone(
                .init(
                    shard: shard.shard,
                    lease: shard.lease,
                    documents: vectors.count,
                    tokens: tokenCount,
                    embedSeconds: embedSeconds,
                    commitSeconds: commitSeconds
                )
            )
        case .success(.fenced(let reason)):
            metrics.shardsFenced.increment()
            log.warning("commit fenced, nothing written: \(reason)")
            return .shardFenced(shard: shard.shard, lease: shard.lease)
        case .failure(.cancelled(let reason)):
            return givenBack(shard, reason: reason, log: log)
        case .failure(let error):
            metrics.shardsFailed.increment()
            let (fault, certain) = Self.attribute(error)
            log.error("commit failed (\(fault.rawValue) fault): \(error)")
            return .shardFailed(
                .init(shard: shard.shard, lease: shard.lease, error: "\(error)", fault: fault, certain: certain)
            )
        }
    }

    /// The worker is stopping: the shard goes back to the coordinator, no attempt counted.
    private func givenBack(_ shard: ShardAssignment, reason: String, log: Logger) -> WorkerMessage {
        log.warning("shard given back: \(reason)")
        return .shardFailed(.init(shard: shard.shard, lease: shard.lease, error: reason, fault: .returned))
    }

    /// Whose fault a failed commit was. Only the database's refusal of the data itself is the
    /// documents'; a connection lost past the retry budget, a timeout, a full disk, a permission or
    /// constraint error is the database's; a vector of the wrong size is this worker's model.
    static func attribute(_ error: StoreError) -> (ShardFault, certain: Bool) {
        if error.isDataFault { return (.document, true) }
        switch error {
        case .dimensionMismatch, .invalid: return (.worker, false)
        default: return (.database, false)
        }
    }

    /// Runs `body` (a read or a commit), reconnecting and retrying (for `commitRetrySeconds`) while
    /// the database is unreachable. Retrying is safe: the lease fences every attempt, and a failed
    /// attempt wrote nothing.
    private func withDatabase<T>(
        _ what: String,
        log: Logger,
        _ body: (PostgresConnection) throws(StoreError) -> T
    ) -> Result<T, StoreError> {
        var delay = 0.25
        var waited = 0.0
        let stopped = StoreError.cancelled("the worker is stopping; \(what) was cancelled or not retried")
        defer { _ = running(on: nil) }
        while true {
            do {
                guard !isAbandoning else { return .failure(stopped) }
                if database == nil || !(database!.isConnected) {
                    database = try PostgresConnection(url: configuration.databaseURL, settings: DatabaseTimeouts.worker)
                    log.info("database connection restored")
                }
                guard running(on: database) else { return .failure(stopped) }
                return .success(try body(database!))
            } catch _ where isAbandoning {
                return .failure(stopped)
            } catch let error as PostgresError {
                // Only the reconnection throws these: treat them as the store's connection loss.
                database = nil
                guard waited < configuration.commitRetrySeconds else {
                    return .failure(.database(error, during: "reconnecting"))
                }
                metrics.commitRetries.increment()
                log.warning("database unreachable; retrying \(what) in \(delay) s: \(error)")
            } catch let error as StoreError where error.isConnectionLoss {
                database = nil
                guard waited < configuration.commitRetrySeconds else { return .failure(error) }
                metrics.commitRetries.increment()
                log.warning("database unreachable; retrying \(what) in \(delay) s: \(error)")
            } catch let error as StoreError {
                return .failure(error)
            } catch {
                return .failure(.invalid("\(error)"))
            }
            // In slices, so a stop does not wait out the delay.
            for _ in 0..<Int(delay * 20) where !isAbandoning { Thread.sleep(forTimeInterval: 0.05) }
            waited += delay
            delay = min(delay * 2, 5)
        }
    }
}
