import Foundation
import JobStates
import Logging
import PostgresClient
import Store
import Synchronization
import Telemetry
import Wire
import ZeroMQ

/// The coordinator daemon: a ROUTER socket for workers, one for clients, the
/// ``ShardScheduler`` deciding, PostgreSQL remembering. Runs on the thread that
/// calls ``run()`` (its sockets and its database connection stay there).
public final class CoordinatorServer {
    /// Stops a running server from another thread (a signal handler): the loop ends at its next
    /// turn, and the statement it is waiting on, if any, is cancelled so that turn comes soon.
    public final class StopHandle: Sendable {
        fileprivate let flag = Atomic<Bool>(false)
        fileprivate let statement = Mutex<PostgresCancelHandle?>(nil)
        public func stop() {
            flag.store(true, ordering: .relaxed)
            statement.withLock { $0 }?.cancel()
        }
        var isStopped: Bool { flag.load(ordering: .relaxed) }
        /// The connection whose statements a stop cancels.
        fileprivate func watch(_ connection: PostgresConnection?) {
            statement.withLock { $0 = connection?.cancelHandle }
        }
    }

    public let configuration: CoordinatorConfiguration
    public let stopHandle = StopHandle()
    public let metrics = CoordinatorMetrics()
    let logger: Logger
    let name: String
    private let context: ZeroMQContext
    private let workerSocket: ZeroMQSocket
    private let clientSocket: ZeroMQSocket
    private let zap: ZapAuthenticator?
    /// Accepted and closed connections of the worker and client endpoints.
    private let monitors: [(TransportConnections.Endpoint, ZeroMQMonitor, port: UInt16)]
    private var connections = TransportConnections()
    /// The registered peers, with CURVE keys (re-read when `coord keys add|revoke` changes them).
    let peers: PeerDirectory?
    private let legacyKeys: Bool
    /// What each worker's messages mean: sessions, hellos, lease holders.
    var sessions = WorkerSessions()
    private var database: PostgresConnection? {
        didSet { stopHandle.watch(database) }
    }
    private var lastConnectAttempt = -Double.infinity
    /// Seconds between reconnection attempts: 1, doubling to 8 while they fail (each may wait
    /// `coordinatorConnectSeconds` on a partitioned link).
    private var reconnectInterval = 1.0
    var scheduler: ShardScheduler
    /// Every job from its upload to its HNSW build: what is decided about jobs is decided there.
    var lifecycle: JobLifecycle
    /// Peers already logged for dropped messages.
    var offences = PeerOffences()
    /// HNSW builds of jobs whose shards are all done.
    let indexBuilds: IndexBuildQueue
    /// Uploaded chunks written to the database off the loop.
    let stager: UploadStager
    /// Each client's requests behind its chunks with the stager.
    var clientOrder = ClientRequestOrder()
    let clock = ContinuousClock()
    let started = ContinuousClock.now
    private var lastHousekeeping = 0.0
    /// After a statement hit its lock or statement timeout, the loop's own database work (dealing,
    /// completion checks) waits until then, so a held lock costs it one bounded wait a second.
    private var databaseBusyUntil = -Double.infinity
    var databaseBusy: Bool { now < databaseBusyUntil }
    /// Seal steps are handed to the stager again from then on (one was not done: the database away).
    var sealStepsResumeAt = -Double.infinity

    public init(configuration: CoordinatorConfiguration, logger: Logger) throws(CoordinatorError) {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.name = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
        var schedulerConfiguration = ShardScheduler.Configuration()
        schedulerConfiguration.leaseSeconds = configuration.leaseSeconds
        schedulerConfiguration.maxAttempts = configuration.maxAttempts
        schedulerConfiguration.speculate = configuration.speculate
        schedulerConfiguration.shardDeadlineSeconds = configuration.shardDeadlineSeconds
        schedulerConfiguration.secondWorkerSeconds = configuration.secondWorkerSeconds
        scheduler = ShardScheduler(configuration: schedulerConfiguration)
        lifecycle = JobLifecycle(
            limits: .init(sealBatch: configuration.sealBatch, uploadIdleSeconds: configuration.uploadIdleSeconds)
        )
        indexBuilds = IndexBuildQueue(
            builder: HnswIndexBuilder(
                url: configuration.databaseURL,
                maintenanceWorkMemory: configuration.maintenanceWorkMemory
            ),
            logger: logger
        )
        do {
            context = try ZeroMQContext()
            var serverKeys: CurveKeyStore.ServerKeys?
            if let folder = configuration.keysFolder {
                do { serverKeys = try CurveKeyStore(folder: folder).serverKeys() } catch {
                    throw CoordinatorError.configuration("\(error)")
                }
                peers = serverKeys!.peers
                legacyKeys = serverKeys!.legacy
                zap = try ZapAuthenticator(context: context, peers: serverKeys!.peers)
            } else {
                peers = nil
                legacyKeys = false
                zap = nil
            }
            workerSocket = try context.socket(.router)
            clientSocket = try context.socket(.router)
            stager = try UploadStager(
                context: context,
                url: configuration.databaseURL,
                cleanupBatch: configuration.cleanupBatch,
                logger: logger
            )
            // Per-frame bounds: libzmq drops a connection that sends a bigger frame before buffering it.
            try workerSocket.setMaximumMessageSize(WireLimits.workerFrameBytes)
            try clientSocket.setMaximumMessageSize(WireLimits.clientFrameBytes)
            for (socket, domain) in [(workerSocket, PeerRole.workerDomain), (clientSocket, PeerRole.clientDomain)] {
                try socket.setRouterMandatory()
                if let serverKeys {
                    try socket.makeCurveServer(secretKey: serverKeys.keys.secretKey, authenticationDomain: domain)
                }
            }
            let workerMonitor = try workerSocket.monitor()
            let clientMonitor = try clientSocket.monitor()
            try workerSocket.bind(configuration.workerEndpoint)
            try clientSocket.bind(configuration.clientEndpoint)
            monitors = [
                (.worker, workerMonitor, port: Self.port(of: workerSocket.lastEndpoint)),
                (.client, clientMonitor, port: Self.port(of: clientSocket.lastEndpoint)),
            ]
            // Without keys, what libzmq actually bound must be loopback, however the endpoint was written.
            if configuration.keysFolder == nil && !configuration.allowInsecure {
                for (asked, socket) in [
                    (configuration.workerEndpoint, workerSocket), (configuration.clientEndpoint, clientSocket),
                ]
                where !CoordinatorConfiguration.isLoopback(socket.lastEndpoint) {
                    throw CoordinatorError.configuration(
                        "\(asked) bound \(socket.lastEndpoint), which is not loopback, and no --keys were given: "
                            + "anyone on the network could connect. Pass --keys DIR (see `coord keys`), or --insecure to accept that risk"
                    )
                }
            }
        } catch let error as ZeroMQError {
            throw .socket(error)
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw .configuration("\(error)")
        }
    }

    /// The endpoints actually bound (a `*` port resolved).
    public var workerEndpoint: String { workerSocket.lastEndpoint }
    public var clientEndpoint: String { clientSocket.lastEndpoint }

    var now: Double { (ContinuousClock.now - started).seconds }
    /// Seconds of dealing per loop turn at most (``deal()``).
    static let dealBudgetSeconds = 0.1
    /// The last turn's dealing stopped at its budget with shards still to deal.
    var dealsPending = false

    // MARK: Run loop

    /// Prepares the database (migrations, models, unfinished jobs) and serves until stopped.
    public func run() throws(CoordinatorError) {
        var summary = configuration.redactedSummary
        summary["workers"] = workerEndpoint
        summary["clients"] = clientEndpoint
        logger.info("coordinator starting", metadata: summary.mapValues { .string($0) })
        if legacyKeys {
            logger.warning(
                "keys folder of the old layout (one shared pair, authorized_keys): any key may act as a worker and a client"
            )
        }
        if configuration.keysFolder == nil {
            logger.warning(
                "no CURVE keys: connections are not authenticated; listening on loopback only (see `coord keys`)"
            )
        }
        let connection: PostgresConnection
        do { connection = try connectAtStart() } catch  where stopHandle.isStopped {
            logger.info("coordinator stopped while waiting for its database")
            return
        }
        stopHandle.watch(connection)
        do {
            try Migrator.locate().migrate(connection, logger: logger)
            try registerModels(connection)
            try resume(connection)
        } catch _ where stopHandle.isStopped {
            logger.info("coordinator stopped before it was ready")
            return
        } catch let error as StoreError {
            throw .store(error)
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw .configuration("\(error)")
        }
        database = connection
        logger.info(
            "coordinator ready",
            metadata: ["jobs": "\(lifecycle.jobs.count)", "open_shards": "\(scheduler.openShardCount)"]
        )

        var sockets = [workerSocket, clientSocket] + monitors.map(\.1.socket) + [stager.bell]
        if let zap { sockets.append(zap.socket) }
        while !stopHandle.isStopped {
            let readable: [Bool]
            // Deals left over from the last turn (its time budget spent): look at the sockets, don't wait.
            let wait: Duration = dealsPending ? .zero : .milliseconds(100)
            do { readable = try ZeroMQPoller.readable(sockets, timeout: wait) } catch {
                throw .socket(error)
            }
            if readable.count > 5, readable[5] { answerAuthentication() }
            if readable[0] {
                drain(
                    workerSocket,
                    endpoint: .worker,
                    frameBytes: WireLimits.workerFrameBytes,
                    handleWorkerFrames
                )
            }
            if readable[1] {
                drain(
                    clientSocket,
                    endpoint: .client,
                    frameBytes: WireLimits.clientFrameBytes,
                    handleClientFrames
                )
            }
            // Every turn, not only when the bell rang: a ring may come while the outcomes are taken.
            replyToStagedChunks()
            takeSealSteps()
            // After the messages, so a connection's last message is counted before its close.
            if readable[2] || readable[3] { readConnectionEvents() }
            if now - lastHousekeeping >= 0.25 {
                lastHousekeeping = now
                housekeeping()
            }
            advanceSeals()
            deal()
        }
        if !stager.stop(waitingUpTo: 5) {
            logger.warning("the chunk being staged was not cancelled within 5 s; its upload fails at the next start")
        }
        if !indexBuilds.stop(waitingUpTo: 10) {
            logger.warning("the HNSW build did not stop within 10 s; its job is built again at the next start")
        }
        logger.info("coordinator stopped")
    }

    private func drain(
        _ socket: ZeroMQSocket,
        endpoint: TransportConnections.Endpoint,
        frameBytes: Int64,
        _ handle: ([Data], Peer?) -> Void
    ) {
        let domain = endpoint == .worker ? PeerRole.workerDomain : PeerRole.clientDomain
        // Up to a bounded number per turn, and for 0.1 s at most, so one busy socket does not
        // starve the other (an upload keeps a chunk waiting while another is staged: drained
        // without the time bound, its chunks held the workers' heartbeats back past their lease).
        // A whole message is bounded too: a routing id and one body frame.
        let maximumBytes = Int(frameBytes) + 256
        let turnStarted = now
        for _ in 0..<256 {
            guard now - turnStarted < 0.1 else { return }
            guard
                let received = try? socket.receive(
                    timeout: .zero,
                    maximumFrames: WireLimits.framesPerMessage,
                    maximumBytes: maximumBytes
                )
            else { return }
            switch received {
            case .message(let frames, let userId, let descriptor):
                if let descriptor { connections.delivered(descriptor, endpoint: endpoint, now: now) }
                guard let peers else {
                    handle(frames, nil)
                    continue
                }
                // The handshake checked the key; this checks it still holds (revoked since, or the list changed).
                guard let name = userId, let peer = peers.peer(named: name), !peer.revoked,
                    peer.role.mayConnect(to: domain)
                else {
                    let name = userId ?? "?"
                    dropped(
                        .revoked,
                        peer: name,
                        "a message from \(name), whose key is revoked or no longer allowed on the \(domain) endpoint"
                    )
                    continue
                }
                handle(frames, peer)
            case .oversized(let frames, let bytes, let descriptor):
                if let descriptor { connections.delivered(descriptor, endpoint: endpoint, now: now) }
                dropped(
                    .oversized,
                    peer: "?",
                    "a message of \(frames) frames and \(bytes) bytes (at most \(WireLimits.framesPerMessage) and \(maximumBytes))"
                )
            }
        }
    }

    /// Accepts and closes on both endpoints. A connection that closes without having delivered one
    /// whole message is logged (once per peer host) and counted: it is how libzmq's refusal of
    /// an over-size frame shows, since libzmq hangs up at the frame's header without a word.
    private func readConnectionEvents() {
        for (endpoint, monitor, port) in monitors {
            while let event = monitor.next() {
                switch event {
                case .accepted(let descriptor):
                    connections.accepted(
                        descriptor,
                        endpoint: endpoint,
                        address: ZeroMQMonitor.peerAddress(of: descriptor, localPort: port),
                        now: now
                    )
                case .disconnected(let descriptor):
                    guard let closed = connections.closed(descriptor, endpoint: endpoint) else { continue }
                    let address = closed.address ?? "an address gone before it was read"
                    let seconds = String(format: "%.1f", now - closed.accepted)
                    guard closed.messages == 0 else {
                        logger.debug(
                            "connection closed",
                            metadata: [
                                "endpoint": "\(endpoint.rawValue)", "address": "\(address)",
                                "messages": "\(closed.messages)", "seconds": "\(seconds)",
                            ]
                        )
                        continue
                    }
                    metrics.silentConnections[endpoint]?.increment()
                    let host = closed.address.map { String($0[..<($0.lastIndex(of: ":") ?? $0.endIndex)]) } ?? "?"
                    guard offences.firstTime("\(endpoint.rawValue) \(host)", .oversized) else { continue }
                    let bound: Int64 = endpoint == .worker ? WireLimits.workerFrameBytes : WireLimits.clientFrameBytes
                    let what =
                        "connection from \(address) to the \(endpoint.rawValue) endpoint closed after \(seconds) s"
                    let causes =
                        "a frame over the endpoint's bound (\(bound) bytes; libzmq hangs up at its header), "
                        + "broken framing, a refused handshake, or a peer that left without a word"
                    logger.warning(
                        "\(what) without delivering one whole message: \(causes) (further ones from this host are only counted)",
                        metadata: ["endpoint": "\(endpoint.rawValue)", "address": "\(address)"]
                    )
                case .other:
                    continue
                }
            }
        }
    }

    private static func port(of endpoint: String) -> UInt16 {
        endpoint.split(separator: ":").last.flatMap { UInt16($0) } ?? 0
    }

    private func answerAuthentication() {
        guard let zap, let decision = try? zap.answerPending() else { return }
        let name = decision.peer.map { "\($0.name) (\($0.role.rawValue))" } ?? "unregistered"
        if decision.allowed {
            logger.debug(
                "connection authenticated",
                metadata: ["address": "\(decision.address)", "peer": "\(name)", "endpoint": "\(decision.domain)"]
            )
        } else {
            metrics.rejectedConnections.increment()
            logger.warning(
                "connection refused: \(decision.reason)",
                metadata: [
                    "address": "\(decision.address)", "peer": "\(name)", "endpoint": "\(decision.domain)",
                    "key": "\(decision.publicKey.isEmpty ? "none" : decision.publicKey)",
                ]
            )
        }
    }

    /// Expired leases, dead workers, job completion, database reconnection.
    private func housekeeping() {
        let expired = scheduler.expire(now: now)
        var committed = Set<Int64>()
        for worker in expired.deadWorkers {
            logger.warning("worker silent: declared dead, its shards dealt again", metadata: ["worker": "\(worker)"])
        }
        for lease in expired.revoked {
            metrics.leasesExpired.increment()
            logger.warning(
                "lease lapsed: shard dealt again",
                metadata: [
                    "shard": "\(lease.shard)", "lease": "\(lease.token)", "worker": "\(lease.worker ?? "unknown")",
                ]
            )
            let outcome = revokeInDatabase(lease)
            sendRevoke(lease)
            if outcome == .done { committed.insert(lease.shard) }
        }
        for record in expired.isolate where !committed.contains(record.id) {
            isolate(record, error: "the shard's lease lapsed \(record.attempts) times (a worker died on it each time)")
        }
        for record in expired.alone {
            let model = lifecycle.running(record.job)?.index.model.name ?? "its model"
            isolate(
                record,
                error:
                    "it failed on every worker that can run \(model), and no other came within \(Int(configuration.secondWorkerSeconds)) s (see the workers' logs for the error)"
            )
        }
        expireIdleUploads()
        collectIndexBuilds()
        if lifecycle.hasBuildsToRetry, let db = connectedDatabase() {
            // Only once the database answers: a build queued against a refusing server fails at once.
            do {
                try db.execute("SELECT 1")
                for job in lifecycle.buildsToRetry() { indexBuilds.enqueue(job.record) }
            } catch {
                databaseFailed(StoreError.database(error, during: "checking the database before building again"))
            }
        }
        metrics.queueDepth.set(Double(scheduler.queue.count))
        metrics.workers.set(Double(scheduler.workers.count))
        metrics.unhealthyWorkers.set(
            Double(scheduler.workers.values.filter { !$0.unhealthy.isEmpty || $0.pausedUntil > now }.count)
        )
        if !lifecycle.toCheck.isEmpty, !databaseBusy, let db = connectedDatabase() {
            for job in lifecycle.toCheck.sorted() {
                do {
                    let finish = try JobStore(db).finishIfComplete(job: job)
                    guard finish.finished else {
                        lifecycle.notComplete(job)
                        continue
                    }
                    stager.cleanUpSoon()  // its staged documents are deleted from now on
                    for followUp in finish.followUps { try startFollowUp(followUp, of: job, db: db) }
                    let record = lifecycle.jobs[job]?.record
                    switch lifecycle.complete(job) {
                    case .done(let reason):
                        // Marked done by the next statement; were it lost, the job is resumed as indexing.
                        try JobStore(db).markDone(job: job)
                        metrics.jobsFinished.increment()
                        logger.info("\(reason)", metadata: ["job": "\(job)"])
                    case .build:
                        logger.info("job's shards all done: building its HNSW index", metadata: ["job": "\(job)"])
                        if let record {
                            indexBuilds.enqueue(JobRecord(id: job, index: record.index, state: .indexing))
                        }
                    case nil:
                        break
                    }
                } catch {
                    databaseFailed(error)
                    return
                }
            }
        }
    }

    /// A finished job's documents, copied for another live generation of its index (see
    /// `JobStore.finishIfComplete`): dealt like a job resumed at start.
    private func startFollowUp(_ followUp: JobRecord, of job: Int64, db: PostgresConnection) throws {
        lifecycle.resumed(followUp, indexing: false)
        let shards = try JobStore(db).openShards(job: followUp.id)
        scheduler.add(shards, model: followUp.index.model.name)
        logger.info(
            "follow-up job: the documents go to the index's other generation",
            metadata: [
                "job": "\(followUp.id)", "follows": "\(job)", "index": "\(followUp.index.name)",
                "model": "\(followUp.index.model.name)", "shards": "\(shards.count)",
            ]
        )
    }

    /// Jobs whose HNSW build ended: done, failed, or queued again when the database went away.
    private func collectIndexBuilds() {
        let finished = indexBuilds.takeFinished()
        guard !finished.isEmpty, let db = connectedDatabase() else {
            for build in finished { lifecycle.finishFailed(build.job) }
            return
        }
        for build in finished {
            switch build.outcome {
            case .success(.built(let seconds)):
                logger.info(
                    "HNSW index built",
                    metadata: [
                        "job": "\(build.job)", "index": "\(build.index)",
                        "seconds": "\(String(format: "%.1f", seconds))",
                    ]
                )
            case .success(.alreadyBuilt):
                break
            case .failure(let failure) where failure.isConnectionLoss:
                logger.warning(
                    "HNSW build interrupted: the database went away; will try again",
                    metadata: ["job": "\(build.job)", "error": "\(failure)"]
                )
            case .failure(let failure):
                logger.error(
                    "HNSW build failed",
                    metadata: ["job": "\(build.job)", "index": "\(build.index)", "error": "\(failure)"]
                )
            }
            let failure: (message: String, connectionLoss: Bool)? =
                switch build.outcome {
                case .success: nil
                case .failure(let failure):
                    (
                        "HNSW build failed: \(failure) (the vectors are stored; searches scan sequentially until `coord index build` succeeds)",
                        failure.isConnectionLoss
                    )
                }
            guard case .finish(let error) = lifecycle.buildEnded(build.job, failure: failure) else { continue }
            do {
                try JobStore(db).markDone(job: build.job, error: error)
                lifecycle.finished(build.job)
                metrics.jobsFinished.increment()
                logger.info(error == nil ? "job done" : "job failed", metadata: ["job": "\(build.job)"])
            } catch {
                databaseFailed(error)
                lifecycle.finishFailed(build.job)
            }
        }
    }

    // MARK: Dealing

    private func deal() {
        dealsPending = false
        guard !databaseBusy else { return }
        // Each deal is a transaction (the lease): many idle workers asking at once (64 workers
        // with 2 credits each) would otherwise hold the loop, and status, uploads and heartbeats
        // with it. What the budget leaves is dealt next turn. Workers read the documents
        // themselves (`LeasedShard`).
        let started = now
        while !stopHandle.isStopped {
            if now - started >= Self.dealBudgetSeconds {
                dealsPending = scheduler.hasDeal(now: now)
                return
            }
            guard let decision = scheduler.nextDeal(now: now) else { return }
            let (worker, shard, isCopy): (String, Int64, Bool) =
                switch decision {
                case .shard(let worker, let shard): (worker, shard, false)
                case .copy(let worker, let shard): (worker, shard, true)
                }
            guard let open = scheduler.shards[shard], let job = lifecycle.running(open.record.job),
                let db = connectedDatabase()
            else {
                scheduler.notDealt(shard: shard, worker: worker, stillOpen: scheduler.shards[shard] != nil)
                return
            }
            do {
                let store = JobStore(db)
                guard let token = try store.grantLease(shard: shard, worker: worker) else {
                    scheduler.notDealt(shard: shard, worker: worker, stillOpen: false)
                    lifecycle.check(job.id)
                    continue
                }
                scheduler.granted(token: token, shard: shard, worker: worker, now: now)
                let assignment = ShardAssignment(
                    shard: shard,
                    lease: token,
                    job: job.id,
                    index: job.index.name,
                    collectionId: job.index.collectionId,
                    vectorTable: job.index.vectorTable,
                    model: job.index.model.name,
                    weightsHash: job.index.model.weightsHash,
                    dimension: job.index.model.dimension,
                    documentCount: open.record.documentCount
                )
                metrics.shardsDealt.increment()
                logger.debug(
                    isCopy ? "shard copy dealt" : "shard dealt",
                    metadata: [
                        "job": "\(job.id)", "shard": "\(shard)", "lease": "\(token)", "worker": "\(worker)",
                        "documents": "\(open.record.documentCount)",
                    ]
                )
                send(worker, .assign(assignment))
            } catch {
                scheduler.notDealt(shard: shard, worker: worker, stillOpen: true)
                databaseFailed(error)
                return
            }
        }
    }

    func isolate(_ record: ShardRecord, error: String) {
        guard let job = lifecycle.running(record.job) else { return }
        guard let db = connectedDatabase() else {
            // Not split while the database is away: dealt again as it is (it fails again, then splits).
            scheduler.add([record], model: job.index.model.name, atFront: true)
            return
        }
        do {
            guard let children = try JobStore(db).isolateFailure(job: record.job, shard: record, error: error) else {
                lifecycle.check(record.job)
                return
            }
            if children.isEmpty {
                metrics.documentsRejected.increment()
                logger.error(
                    "document rejected: it fails every time",
                    metadata: ["job": "\(record.job)", "shard": "\(record.id)", "error": "\(error)"]
                )
                lifecycle.check(record.job)
            } else {
                logger.warning(
                    "shard failed \(record.attempts) times: split to isolate the failing document",
                    metadata: [
                        "job": "\(record.job)", "shard": "\(record.id)", "into": "\(children.map(\.id))",
                        "error": "\(error)",
                    ]
                )
                scheduler.add(children, model: job.index.model.name, atFront: true)
            }
        } catch {
            databaseFailed(error)
            // Not split: deal it again as it is; the split is retried when it fails again.
            scheduler.add([record], model: job.index.model.name, atFront: true)
        }
    }

    @discardableResult
    func revokeInDatabase(_ lease: ShardScheduler.Lease) -> JobStore.Revocation? {
        guard let db = connectedDatabase() else { return nil }
        do {
            let outcome = try JobStore(db).revokeLease(token: lease.token, shard: lease.shard)
            if outcome == .done {
                // Committed just before it lapsed: close it here too.
                let job = scheduler.shards[lease.shard]?.record.job
                _ = scheduler.completed(
                    shard: lease.shard,
                    token: lease.token,
                    documents: 0,
                    tokens: 0,
                    embedSeconds: 0,
                    now: now
                )
                if let job { lifecycle.check(job) }
            }
            return outcome
        } catch {
            databaseFailed(error)
            return nil
        }
    }

    // MARK: Sending

    func send(_ worker: String, _ message: CoordinatorMessage) {
        do {
            try workerSocket.send([Data(worker.utf8), WireProtocol.encode(message)], wait: false)
        } catch {
            logger.debug("cannot reach worker: \(error)", metadata: ["worker": "\(worker)"])
        }
    }

    /// Tells a lease's holder (when known) that it no longer holds it.
    func sendRevoke(_ lease: ShardScheduler.Lease) {
        if let worker = lease.worker { send(worker, .revoke(shard: lease.shard, lease: lease.token)) }
    }

    func reply(_ peer: Data, _ message: ClientReply) {
        do { try clientSocket.send([peer, WireProtocol.encode(message)], wait: false) } catch {
            logger.debug("cannot reach client: \(error)")
        }
    }

    // MARK: Database

    /// The connection, reconnecting (at most once a second, less often while that fails) when it was lost.
    func connectedDatabase() -> PostgresConnection? {
        if let database, database.isConnected { return database }
        guard now - lastConnectAttempt >= reconnectInterval else { return nil }
        lastConnectAttempt = now
        do {
            let connection = try PostgresConnection(
                url: configuration.databaseURL,
                settings: DatabaseTimeouts.coordinator,
                connectTimeout: DatabaseTimeouts.coordinatorConnectSeconds
            )
            database = connection
            reconnectInterval = 1
            logger.info("database connection restored")
            lifecycle.check(nil)
            return connection
        } catch {
            database = nil
            logger.warning("database unreachable; retrying in \(Int(reconnectInterval)) s: \(error)")
            reconnectInterval = min(reconnectInterval * 2, 8)
            return nil
        }
    }

    func databaseFailed(_ error: Error) {
        if stopHandle.isStopped {
            logger.info("stopping: the statement in flight was cancelled (\(error))")
            return
        }
        metrics.databaseErrors.increment()
        if let error = error as? StoreError, error.isConnectionLoss {
            logger.error("database connection lost: \(error)")
            database = nil
        } else if let error = error as? StoreError, DatabaseTimeouts.isTimeout(error) {
            databaseBusyUntil = now + 1
            logger.warning("database busy (a lock or statement timeout): the loop's own work waits 1 s: \(error)")
        } else {
            logger.error("database: \(error)")
        }
    }

    // MARK: Start

    /// Connects, waiting for PostgreSQL (it may start after the coordinator, or be restarting)
    /// for up to `databaseWaitSeconds`, with a log line per attempt.
    private func connectAtStart() throws(CoordinatorError) -> PostgresConnection {
        let target = PostgresURL.redacted(configuration.databaseURL)
        do {
            return try PostgresConnection.waiting(
                url: configuration.databaseURL,
                settings: DatabaseTimeouts.coordinator,
                connectTimeout: DatabaseTimeouts.coordinatorConnectSeconds,
                seconds: configuration.databaseWaitSeconds,
                stop: { stopHandle.isStopped },
                retrying: { attempt, error, left in
                    logger.warning(
                        "database unreachable at start (attempt \(attempt)); retrying in 2 s for up to \(Int(left)) s more: \(error)",
                        metadata: ["database": "\(target)"]
                    )
                }
            )
        } catch {
            throw .store(
                .database(
                    error,
                    during: "connecting to \(target) (gave up after \(Int(configuration.databaseWaitSeconds)) s)"
                )
            )
        }
    }

    private func registerModels(_ connection: PostgresConnection) throws {
        guard let folder = configuration.modelsFolder else { return }
        let catalog = Catalog(connection)
        for path in ModelFolders.list(folder) {
            let record: ModelRecord
            do { record = try ModelFolders.record(path) } catch {
                logger.error("model folder skipped: \(error)", metadata: ["path": "\(path)"])
                continue
            }
            let registered = try catalog.register(record)
            if registered.weightsHash != record.weightsHash {
                logger.warning(
                    "model folder differs from the registry: the registry's weights stay the reference",
                    metadata: [
                        "model": "\(record.name)", "path": "\(path)",
                        "registry_sha256": "\(registered.weightsHash.prefix(16))…",
                        "folder_sha256": "\(record.weightsHash.prefix(16))…",
                    ]
                )
            } else {
                logger.info(
                    "model registered",
                    metadata: [
                        "model": "\(record.name)", "dimension": "\(record.dimension)",
                        "sha256": "\(record.weightsHash.prefix(16))…",
                    ]
                )
            }
        }
    }

    /// Loads unfinished jobs: their open shards are dealt again, leases found are kept until they lapse.
    private func resume(_ connection: PostgresConnection) throws {
        let store = JobStore(connection)
        let interrupted = try store.failInterruptedSubmissions()
        if interrupted > 0 {
            logger.warning("submissions interrupted by a restart marked failed", metadata: ["jobs": "\(interrupted)"])
        }
        for job in try store.runningJobs() {
            lifecycle.resumed(job, indexing: false)
            let shards = try store.openShards(job: job.id)
            scheduler.add(shards, model: job.index.model.name)
            let leases = try store.leases(job: job.id)
            for lease in leases {
                scheduler.adopt(token: lease.token, shard: lease.shard, worker: lease.worker, now: now)
            }
            logger.info(
                "job resumed",
                metadata: [
                    "job": "\(job.id)", "index": "\(job.index.name)", "open_shards": "\(shards.count)",
                    "leases": "\(leases.count)",
                ]
            )
        }
        for job in try store.indexingJobs() {
            lifecycle.resumed(job, indexing: true)
            logger.info(
                "job resumed: building its HNSW index",
                metadata: ["job": "\(job.id)", "index": "\(job.index.name)"]
            )
            indexBuilds.enqueue(job)
        }
    }
}
