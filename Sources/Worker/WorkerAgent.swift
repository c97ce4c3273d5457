import Embedding
import Foundation
import Logging
import PostgresClient
import Store
import Synchronization
import Telemetry
import Wire
import ZeroMQ

/// A worker connected to a coordinator: a DEALER socket on the thread that
/// calls ``run()``, a ``ShardEmbedder`` thread doing the work. Says hello,
/// asks for shards (credit), heartbeats the shards in hand, and on stop
/// returns the shards it has not started, finishes the current one and says goodbye.
public final class WorkerAgent {
    public final class StopHandle: Sendable {
        fileprivate let flag = Atomic<Bool>(false)
        public func stop() { flag.store(true, ordering: .relaxed) }
        var isStopped: Bool { flag.load(ordering: .relaxed) }
    }

    public let configuration: WorkerConfiguration
    public let stopHandle = StopHandle()
    public let metrics = WorkerMetrics()
    private let logger: Logger

    public init(configuration: WorkerConfiguration, logger: Logger) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.id)"
        self.logger = logger
    }

    /// Runs until stopped (returns) or refused (throws).
    public func run() throws {
        logger.info("worker starting", metadata: configuration.redactedSummary.mapValues { .string($0) })
        let offered = Precision.offered(configuration.precisions)
        if offered != configuration.precisions {
            logger.warning(
                "int8 not offered: this CPU lacks VNNI, so its int8 vectors (7-bit inputs) would differ from other workers'",
                metadata: ["onednn_isa": "\(OneDNN.instructionSet)"]
            )
        }
        guard !offered.isEmpty else { throw WorkerError.setting("--precisions: none of them runs on this CPU") }
        let shelf = try ModelShelf(
            folder: configuration.modelsFolder,
            threads: configuration.threads,
            tokenBudget: configuration.tokenBudget,
            precisions: offered
        )
        for model in shelf.announcements {
            logger.info(
                "model available",
                metadata: [
                    "model": "\(model.name)", "dimension": "\(model.dimension)",
                    "precisions": "\((model.precisions ?? []).joined(separator: ","))",
                    "sha256": "\(model.weightsHash.prefix(16))…",
                ]
            )
        }
        let database = try connectWithRetry()
        if let role = try? DatabaseRole.current(database), role.superuser || role.canChangeSchema {
            logger.warning(
                "this worker connects to PostgreSQL as \(role.name), which can change the schema\(role.superuser ? " (a superuser)" : ""); give workers the driftless_worker role (see Schemas/migrations/0007_roles.sql)"
            )
        }
        let keys = try configuration.keysFolder.map { try CurveKeyStore(folder: $0).clientKeys() }
        let endpoint = try configuration.metricsPort.map {
            try MetricsEndpoint(registry: metrics.registry, host: configuration.metricsHost, port: $0, logger: logger)
        }
        defer { endpoint?.stop() }

        let context = try ZeroMQContext()
        let socket = try context.socket(.dealer)
        try socket.setRoutingId(configuration.id)
        try socket.setMaximumMessageSize(WireProtocol.maximumMessageSize)
        if let keys { try socket.makeCurveClient(serverKey: keys.serverKey, keys: keys.keys) }
        try socket.connect(configuration.coordinator)

        let embedder = ShardEmbedder(
            configuration: configuration,
            shelf: shelf,
            database: database,
            metrics: metrics,
            logger: logger
        )
        embedder.start()

        let hello = WorkerMessage.Hello(
            worker: configuration.id,
            host: ProcessInfo.processInfo.hostName,
            version: Self.version,
            threads: configuration.threads,
            models: shelf.announcements
        )
        func send(_ message: WorkerMessage) {
            do { try socket.send([WireProtocol.encode(message)], wait: false) } catch {
                logger.debug("message not sent (the coordinator is away): \(error)")
            }
        }

        var welcomed = false
        var heartbeatSeconds = 2.0
        var leaseSeconds = 15.0
        var lastHello = -Double.infinity
        var lastHeartbeat = 0.0
        var lastHeard = 0.0
        var inHand: [Int64: Int64] = [:]  // lease -> shard
        var stopping = false
        var stoppedAt = 0.0
        var abandoned = false
        let started = ContinuousClock.now
        var now: Double { (ContinuousClock.now - started).seconds }

        while true {
            if stopHandle.isStopped && !stopping {
                stopping = true
                stoppedAt = now
                // Shards not started go back at once; the current one is finished.
                let returned = embedder.inbox.close()
                for shard in returned {
                    send(
                        .shardFailed(
                            .init(
                                shard: shard.shard,
                                lease: shard.lease,
                                error: "worker stopping",
                                fault: .returned
                            )
                        )
                    )
                    inHand.removeValue(forKey: shard.lease)
                }
                logger.info(
                    "stopping: finishing the current shard",
                    metadata: ["returned": "\(returned.count)", "in_hand": "\(inHand.count)"]
                )
            }
            if stopping && !abandoned && now - stoppedAt > configuration.stopGraceSeconds {
                // A commit waiting on a lock or an absent database: cancelled, its shard given back.
                abandoned = true
                logger.warning(
                    "stopping: the current shard did not commit within \(configuration.stopGraceSeconds) s; its commit is cancelled and the shard given back"
                )
                embedder.abandonCommits()
            }
            if stopping && embedder.hasFinished {
                for message in embedder.outbox.drain() { if case .ready = message {} else { send(message) } }
                send(.goodbye(returning: []))
                // Give libzmq a moment to flush (the socket lingers 200 ms on close).
                Thread.sleep(forTimeInterval: 0.2)
                logger.info("worker stopped")
                return
            }

            if let frames = try socket.receive(timeout: .milliseconds(50)) {
                lastHeard = now
                let message: CoordinatorMessage
                do {
                    message = try WireProtocol.decode(CoordinatorMessage.self, from: frames.last ?? Data())
                } catch {
                    logger.warning("dropped a coordinator message: \(error)")
                    continue
                }
                switch message {
                case .welcome(let welcome):
                    guard welcome.protocolVersion == WireProtocol.version else {
                        let reason =
                            "the coordinator speaks protocol version \(welcome.protocolVersion), this worker \(WireProtocol.version): "
                            + "run the same Driftless version on both"
                        logger.error("cannot work for this coordinator: \(reason)")
                        embedder.inbox.close()
                        throw WorkerError.refused(reason)
                    }
                    welcomed = true
                    heartbeatSeconds = welcome.heartbeatSeconds
                    leaseSeconds = welcome.leaseSeconds
                    logger.info("connected to the coordinator", metadata: ["coordinator": "\(welcome.coordinator)"])
                    if !stopping {
                        let free = configuration.credit - inHand.count
                        if free > 0 { send(.ready(credit: free)) }
                    }
                    send(.heartbeat(leases: Array(inHand.keys)))
                case .refused(let reason):
                    logger.error("the coordinator refused this worker: \(reason)")
                    embedder.inbox.close()
                    throw WorkerError.refused(reason)
                case .modelRefused(let model, let reason):
                    logger.error("model refused by the coordinator: \(reason)", metadata: ["model": "\(model)"])
                case .assign(let shard):
                    if stopping {
                        send(
                            .shardFailed(
                                .init(
                                    shard: shard.shard,
                                    lease: shard.lease,
                                    error: "worker stopping",
                                    fault: .returned
                                )
                            )
                        )
                    } else {
                        inHand[shard.lease] = shard.shard
                        embedder.inbox.put(shard)
                    }
                case .revoke(let shard, let lease):
                    logger.info(
                        "lease revoked by the coordinator",
                        metadata: ["shard": "\(shard)", "lease": "\(lease)"]
                    )
                    embedder.revoke(lease)
                case .reset:
                    welcomed = false
                    lastHello = now
                    send(.hello(hello))
                case .heartbeat:
                    break
                }
            }

            for message in embedder.outbox.drain() {
                switch message {
                case .shardDone(let done): inHand.removeValue(forKey: done.lease)
                case .shardFailed(let failed): inHand.removeValue(forKey: failed.lease)
                case .shardFenced(_, let lease): inHand.removeValue(forKey: lease)
                case .ready where stopping: continue
                default: break
                }
                send(message)
            }
            metrics.shardsInHand.set(Double(inHand.count))

            if !welcomed && now - lastHello >= 2 {
                lastHello = now
                send(.hello(hello))
            } else if welcomed && now - lastHeartbeat >= heartbeatSeconds {
                lastHeartbeat = now
                send(.heartbeat(leases: Array(inHand.keys)))
                if now - lastHeard > leaseSeconds {
                    // The coordinator went quiet (restarted, or the network split): introduce ourselves again.
                    logger.warning("no word from the coordinator for \(Int(now - lastHeard)) s; saying hello again")
                    welcomed = false
                    lastHeard = now
                }
            }
        }
    }

    public static let version = "0.3.0"

    /// Connects to the database, retrying for up to a minute (the database may start after the worker).
    private func connectWithRetry() throws -> PostgresConnection {
        do {
            return try PostgresConnection.waiting(
                url: configuration.databaseURL,
                settings: DatabaseTimeouts.worker,
                seconds: 60
            ) { attempt, error, _ in
                if attempt == 1 { logger.warning("database unreachable; retrying for a minute: \(error)") }
            }
        } catch {
            throw WorkerError.setting(
                "cannot reach the database \(PostgresURL.redacted(configuration.databaseURL)): \(error)"
            )
        }
    }
}
