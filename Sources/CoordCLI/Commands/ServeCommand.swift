import ArgumentParser
import Coordinator
import Foundation
import Telemetry

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Run the coordinator: applies migrations, registers models, resumes unfinished jobs, deals shards to workers.",
        discussion: """
            Without --keys the endpoints must be loopback addresses (or pass --insecure). With --keys \
            (from `coord keys`) every worker and client must present an authorised CURVE key.
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    @Option(name: .long, help: "Where workers connect (ZeroMQ ROUTER).")
    var bind = "tcp://127.0.0.1:5555"

    @Option(name: .long, help: "Where `coord submit` and `coord status` connect.")
    var clientBind = "tcp://127.0.0.1:5556"

    @Option(name: .long, help: "A folder of model folders to register at start (name = folder name).")
    var models: String?

    @Option(name: .long, help: "A folder with the coordinator's CURVE keys and authorized_keys (from `coord keys`).")
    var keys: String?

    @Flag(name: .long, help: "Listen on non-loopback addresses without CURVE keys.")
    var insecure = false

    @Option(name: .long, help: "Serve Prometheus metrics on this port (0: any free port).")
    var metricsPort: Int?

    @Option(name: .long, help: "The address the metrics port listens on.")
    var metricsHost = "127.0.0.1"

    @Option(name: .long, help: "Seconds without a heartbeat after which a lease lapses and its shard is dealt again.")
    var leaseSeconds = 15.0

    @Option(name: .long, help: "Seconds between a worker's heartbeats (told to workers).")
    var heartbeatSeconds = 2.0

    @Option(name: .long, help: "Failed attempts after which a shard is split to isolate a failing document.")
    var maxAttempts = 2

    @Option(
        name: .long,
        help: "Seconds after which a lease is revoked and its shard dealt again, even while its worker heartbeats."
    )
    var shardDeadlineSeconds = 900.0

    @Option(
        name: .long,
        help:
            "Seconds a lone document that failed on every worker able to run its model waits for another such worker before it is rejected."
    )
    var secondWorkerSeconds = 120.0

    @Option(name: .long, help: "Seconds to wait for PostgreSQL at start.")
    var databaseWaitSeconds = 120.0

    @Option(
        name: .long,
        help: "Seconds an upload may send nothing before its job is failed and its staged documents deleted."
    )
    var uploadIdleSeconds = 300.0

    @Option(
        name: .long,
        help: "Jobs of more documents are sealed in steps of this many, one bounded transaction each."
    )
    var sealBatch = 10_000

    @Option(
        name: .long,
        help: "A finished job's staged documents are deleted in steps of this many, four steps a second at most."
    )
    var cleanupBatch = 10_000

    @Flag(
        name: .long,
        inversion: .prefixedNo,
        help: "Give idle workers copies of the last slow shards (first commit wins)."
    )
    var speculate = true

    @Option(
        name: .long,
        help: "PostgreSQL maintenance_work_mem for HNSW builds (e.g. 1GB; the graph should fit in it)."
    )
    var maintenanceWorkMem = "1GB"

    func run() throws {
        let logger = logging.logger("driftless.coordinator")
        var configuration = CoordinatorConfiguration(databaseURL: try database.requiredURL())
        configuration.workerEndpoint = bind
        configuration.clientEndpoint = clientBind
        configuration.modelsFolder = models
        configuration.keysFolder = keys
        configuration.allowInsecure = insecure
        configuration.metricsPort = metricsPort
        configuration.metricsHost = metricsHost
        configuration.leaseSeconds = leaseSeconds
        configuration.heartbeatSeconds = heartbeatSeconds
        configuration.maxAttempts = maxAttempts
        configuration.shardDeadlineSeconds = shardDeadlineSeconds
        configuration.secondWorkerSeconds = secondWorkerSeconds
        configuration.databaseWaitSeconds = databaseWaitSeconds
        configuration.uploadIdleSeconds = uploadIdleSeconds
        configuration.sealBatch = sealBatch
        configuration.cleanupBatch = cleanupBatch
        configuration.speculate = speculate
        configuration.maintenanceWorkMemory = maintenanceWorkMem
        do {
            let server = try CoordinatorServer(configuration: configuration, logger: logger)
            let endpoint = try metricsPort.map {
                try MetricsEndpoint(registry: server.metrics.registry, host: metricsHost, port: $0, logger: logger)
            }
            defer { endpoint?.stop() }
            let stop = server.stopHandle
            let signals = SignalTrap { stop.stop() }
            defer { withExtendedLifetime(signals) {} }
            try server.run()
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
    }
}
