import ArgumentParser
import Embedding
import Foundation
import Logging
import PostgresClient
import Telemetry
import Worker

/// `worker --coordinator … --database … --models …`: take shards from a coordinator.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Connect to a coordinator and embed the shards it deals into PostgreSQL (the default command).",
        discussion: """
            Workers may join and leave at any time. SIGTERM or Ctrl-C returns the shards not yet started, \
            finishes the current one (or, past --stop-seconds, cancels its commit and returns it too) \
            and exits 0. The database URL comes from --database or \
            DRIFTLESS_DATABASE_URL and is never logged with its password.
            """
    )

    @Option(name: .long, help: "The coordinator's worker endpoint.")
    var coordinator = "tcp://127.0.0.1:5555"

    @Option(
        name: .long,
        help:
            "PostgreSQL URL (default: $DRIFTLESS_DATABASE_URL). A password here is visible to other users: prefer --database-file."
    )
    var database: String?

    @Option(name: .long, help: "A file holding the PostgreSQL URL (default: $DRIFTLESS_DATABASE_URL_FILE).")
    var databaseFile: String?

    @Option(name: .long, help: "A folder of model folders (e.g. models/); each is announced with its weights' sha256.")
    var models = "models"

    @Option(name: .long, help: "Compute threads (default: the number of cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Most tokens encoded in one batch.")
    var tokenBudget = 2048

    @Option(name: .long, help: "Shards in hand at once (one embedding, the others already arriving).")
    var credit = 2

    @Option(name: .long, help: "A folder with coordinator.public and client.secret (from `coord keys`), for CURVE.")
    var keys: String?

    @Option(name: .long, help: "Serve Prometheus metrics on this port (0: any free port).")
    var metricsPort: Int?

    @Option(name: .long, help: "The address the metrics port listens on (0.0.0.0 in a container).")
    var metricsHost = "127.0.0.1"

    @Option(
        name: .long,
        help:
            "Seconds a commit keeps retrying while the database is unreachable, before the shard goes back (a database fault)."
    )
    var commitRetrySeconds = 120.0

    @Option(
        name: .long,
        help:
            "Seconds the current shard may take to finish after SIGTERM or Ctrl-C; past them its commit is cancelled and the shard given back."
    )
    var stopSeconds = 20.0

    @Option(
        name: .long,
        help: """
            The precisions it runs models in, comma-separated: fp32, bf16, int8. It is dealt only shards of \
            indexes in one of them (int8 only where the CPU has VNNI).
            """
    )
    var precisions = "fp32,bf16,int8"

    @Option(name: .long, help: "The worker's id (default: host-pid-random).")
    var id: String?

    @Flag(name: .long, help: "Log more detail.")
    var verbose = false

    func validate() throws {
        guard (1...256).contains(threads) else {
            throw ValidationError("--threads must be between 1 and 256 (got \(threads))")
        }
        guard (1...16).contains(credit) else {
            throw ValidationError("--credit must be between 1 and 16 (got \(credit))")
        }
        guard tokenBudget >= 1 else { throw ValidationError("--token-budget must be positive") }
        guard commitRetrySeconds >= 0, commitRetrySeconds.isFinite else {
            throw ValidationError("--commit-retry-seconds must be 0 or more (got \(commitRetrySeconds))")
        }
        guard stopSeconds >= 0, stopSeconds.isFinite else {
            throw ValidationError("--stop-seconds must be 0 or more (got \(stopSeconds))")
        }
        do { _ = try parsedPrecisions() } catch { throw ValidationError("--precisions: \(error)") }
        do { _ = try PostgresURL.resolve(flag: database, file: databaseFile) } catch {
            throw ValidationError("\(error)")
        }
    }

    func parsedPrecisions() throws -> [Precision] {
        let list = try precisions.split(separator: ",").map {
            try Precision(setting: String($0).trimmingCharacters(in: .whitespaces))
        }
        guard !list.isEmpty else { throw PrecisionError.unknown(precisions) }
        return list
    }

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "driftless.worker")
        logger.logLevel = verbose ? .debug : .info
        let source = try PostgresURL.resolve(flag: database, file: databaseFile)
        if let warning = source.warning { logger.warning("\(warning)") }
        let url = source.url
        var configuration = WorkerConfiguration(
            coordinator: coordinator,
            databaseURL: url,
            modelsFolder: models,
            threads: threads,
            tokenBudget: tokenBudget
        )
        configuration.credit = credit
        configuration.keysFolder = keys
        configuration.metricsPort = metricsPort
        configuration.metricsHost = metricsHost
        configuration.commitRetrySeconds = commitRetrySeconds
        configuration.stopGraceSeconds = stopSeconds
        configuration.precisions = try parsedPrecisions()
        if let id { configuration.id = id }
        let agent = WorkerAgent(configuration: configuration, logger: logger)
        let stop = agent.stopHandle
        let signals = SignalTrap { stop.stop() }
        defer { withExtendedLifetime(signals) {} }
        do {
            try agent.run()
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
    }
}
