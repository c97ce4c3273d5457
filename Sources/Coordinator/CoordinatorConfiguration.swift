import Foundation
import PostgresClient

/// Everything `coord serve` is told, validated once at start.
public struct CoordinatorConfiguration: Sendable {
    /// The database URL (from `--database` or DRIFTLESS_DATABASE_URL); never logged as is.
    public var databaseURL: String
    /// Where workers connect (ROUTER) and where clients connect.
    public var workerEndpoint = "tcp://127.0.0.1:5555"
    public var clientEndpoint = "tcp://127.0.0.1:5556"
    /// Serves Prometheus metrics on this port (nil: none).
    public var metricsPort: Int?
    public var metricsHost = "127.0.0.1"
    /// Model folders registered at start (one per subfolder with a config.json).
    public var modelsFolder: String?
    /// CURVE keys (see ``CurveKeyStore``); without them the endpoints must be on loopback unless `allowInsecure`.
    public var keysFolder: String?
    public var allowInsecure = false
    public var leaseSeconds = 15.0
    public var heartbeatSeconds = 2.0
    public var maxAttempts = 2
    public var speculate = true
    /// A lease is revoked this long after it was granted, even while its worker heartbeats.
    public var shardDeadlineSeconds = 900.0
    /// A lone failing document waits this long for a worker that has not failed it yet; then it is rejected.
    public var secondWorkerSeconds = 120.0
    /// How long `coord serve` waits for PostgreSQL at start.
    public var databaseWaitSeconds = 120.0
    /// An upload that sends nothing for this long is failed and its staged documents deleted.
    public var uploadIdleSeconds = 300.0
    /// A job of more documents is sealed in steps of this many (one bounded transaction each).
    public var sealBatch = 10_000
    /// A finished job's staged documents are deleted in steps of this many, by the upload stager, 0.25 s apart.
    public var cleanupBatch = 10_000
    /// PostgreSQL's `maintenance_work_mem` for HNSW builds (the graph should fit in it).
    public var maintenanceWorkMemory = "1GB"

    public init(databaseURL: String) { self.databaseURL = databaseURL }

    /// What can be checked before anything starts.
    public func validate() throws(CoordinatorError) {
        guard leaseSeconds >= 2 * heartbeatSeconds, heartbeatSeconds > 0 else {
            throw .configuration(
                "--lease-seconds (\(leaseSeconds)) must be at least twice --heartbeat-seconds (\(heartbeatSeconds))"
            )
        }
        guard maxAttempts >= 1 else { throw .configuration("--max-attempts must be at least 1") }
        guard shardDeadlineSeconds > leaseSeconds else {
            throw .configuration(
                "--shard-deadline-seconds (\(shardDeadlineSeconds)) must be longer than --lease-seconds (\(leaseSeconds))"
            )
        }
        guard secondWorkerSeconds >= 0, secondWorkerSeconds.isFinite else {
            throw .configuration("--second-worker-seconds must be 0 or more")
        }
        guard sealBatch >= 1 else { throw .configuration("--seal-batch must be at least 1") }
        guard (1...1_000_000).contains(cleanupBatch) else {
            throw .configuration("--cleanup-batch must be from 1 to 1000000")
        }
        guard databaseWaitSeconds >= 0, uploadIdleSeconds >= 1 else {
            throw .configuration("--database-wait-seconds must be at least 0 and --upload-idle-seconds at least 1")
        }
        for endpoint in [workerEndpoint, clientEndpoint]
        where !endpoint.hasPrefix("tcp://") && !endpoint.hasPrefix("ipc://") {
            throw .configuration("endpoint \(endpoint) must start with tcp:// or ipc://")
        }
        if keysFolder == nil && !allowInsecure {
            for endpoint in [workerEndpoint, clientEndpoint] where !Self.isLoopback(endpoint) {
                throw .configuration(
                    "\(endpoint) is not a loopback address and no --keys were given: anyone on the network could connect. "
                        + "Make keys with `coord keys --out DIR` and pass --keys DIR, or pass --insecure to accept that risk"
                )
            }
        }
    }

    /// Whether an endpoint listens on loopback only. A `;` (libzmq's "source;address" form) or
    /// anything else unusual is not loopback: the server checks what libzmq bound as well.
    static func isLoopback(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") { return true }
        let address = endpoint.dropFirst("tcp://".count)
        guard !address.contains(";"), let colon = address.lastIndex(of: ":") else { return false }
        let host = address[..<colon]
        if host == "localhost" || host == "[::1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// The settings, with the database password masked, for the log.
    public var redactedSummary: [String: String] {
        [
            "database": PostgresURL.redacted(databaseURL), "workers": workerEndpoint, "clients": clientEndpoint,
            "metrics": metricsPort.map { "\(metricsHost):\($0)" } ?? "off",
            "keys": keysFolder ?? "none (loopback only)",
            "lease_seconds": "\(leaseSeconds)", "maintenance_work_mem": maintenanceWorkMemory,
            "heartbeat_seconds": "\(heartbeatSeconds)", "shard_deadline_seconds": "\(shardDeadlineSeconds)",
            "second_worker_seconds": "\(secondWorkerSeconds)",
            "upload_idle_seconds": "\(uploadIdleSeconds)",
        ]
    }
}
