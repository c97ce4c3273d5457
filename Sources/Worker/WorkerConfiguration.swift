import Embedding
import Foundation
import PostgresClient

/// Everything `worker` (connected to a coordinator) is told, validated at start.
public struct WorkerConfiguration: Sendable {
    public var coordinator: String
    /// From `--database` or DRIFTLESS_DATABASE_URL; never logged as is.
    public var databaseURL: String
    /// A folder of model folders (models/all-MiniLM-L6-v2, …).
    public var modelsFolder: String
    public var threads: Int
    public var tokenBudget: Int
    /// Shards in hand at once: one embedding, the rest already on their way.
    public var credit = 2
    public var id: String
    /// The precisions it runs models in (`--precisions`); int8 is offered only where the CPU has VNNI.
    public var precisions = Precision.allCases
    public var keysFolder: String?
    public var metricsPort: Int?
    public var metricsHost = "127.0.0.1"
    /// How long a commit retries while the database is unreachable before giving the shard back.
    public var commitRetrySeconds = 120.0
    /// After SIGTERM, how long the current shard may take to finish (embedding and commit) before
    /// its commit is cancelled, or not attempted, and the shard given back: a commit waiting on a
    /// lock or an absent database no longer holds the stop up (within a pod's usual 30 s grace).
    public var stopGraceSeconds = 20.0
    /// Test hooks (DRIFTLESS_FAULTS).
    public var faults = InjectedFaults(ProcessInfo.processInfo.environment["DRIFTLESS_FAULTS"])

    public init(coordinator: String, databaseURL: String, modelsFolder: String, threads: Int, tokenBudget: Int) {
        self.coordinator = coordinator
        self.databaseURL = databaseURL
        self.modelsFolder = modelsFolder
        self.threads = threads
        self.tokenBudget = tokenBudget
        let host = ProcessInfo.processInfo.hostName
        id = "\(host)-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max) % 100_000)"
    }

    public var redactedSummary: [String: String] {
        [
            "worker": id, "coordinator": coordinator, "database": PostgresURL.redacted(databaseURL),
            "models": modelsFolder,
            "threads": "\(threads)", "credit": "\(credit)", "keys": keysFolder ?? "none",
            "precisions": precisions.map(\.rawValue).joined(separator: ","),
        ]
    }
}
