import Prometheus
import Telemetry
import Wire

/// The coordinator's Prometheus metrics (served by ``MetricsEndpoint`` on `/metrics`).
public final class CoordinatorMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let documentsIndexed: Counter
    let tokensIndexed: Counter
    let shardsDealt: Counter
    let shardsDone: Counter
    let shardsFailed: [ShardFault: Counter]
    let shardsFenced: Counter
    let leasesExpired: Counter
    let documentsRejected: Counter
    let rejectedConnections: Counter
    let databaseErrors: Counter
    let jobsFinished: Counter
    let queueDepth: Gauge
    let workers: Gauge
    let unhealthyWorkers: Gauge
    let docsPerSecond: Gauge
    let shardSeconds: DurationHistogram
    /// Messages dropped before they touched any state, by reason (``DropReason``).
    let droppedMessages: [DropReason: Counter]
    /// Connections closed before they delivered one whole message, by endpoint.
    let silentConnections: [TransportConnections.Endpoint: Counter]

    public init() {
        documentsIndexed = registry.counter("driftless_documents_indexed_total", "Documents committed by workers.")
        tokensIndexed = registry.counter("driftless_tokens_indexed_total", "Tokens embedded in committed shards.")
        shardsDealt = registry.counter(
            "driftless_shards_dealt_total",
            "Shard leases granted (copies and retries included)."
        )
        shardsDone = registry.counter("driftless_shards_done_total", "Shards committed.")
        shardsFenced = registry.counter("driftless_shards_fenced_total", "Commits refused because the lease was gone.")
        leasesExpired = registry.counter("driftless_leases_expired_total", "Leases revoked for lack of heartbeats.")
        documentsRejected = registry.counter(
            "driftless_documents_rejected_total",
            "Documents isolated because they fail every time."
        )
        rejectedConnections = registry.counter(
            "driftless_rejected_connections_total",
            "CURVE handshakes refused (key not authorised)."
        )
        databaseErrors = registry.counter("driftless_database_errors_total", "Database operations that failed.")
        jobsFinished = registry.counter("driftless_jobs_finished_total", "Jobs completed.")
        queueDepth = registry.gauge("driftless_queue_depth", "Shards waiting to be dealt.")
        workers = registry.gauge("driftless_workers", "Workers connected.")
        unhealthyWorkers = registry.gauge(
            "driftless_workers_unhealthy",
            "Connected workers that cannot run a model they announced, or whose database failed their last commit."
        )
        docsPerSecond = registry.gauge(
            "driftless_docs_per_second",
            "Documents per second over the last completed shards."
        )
        shardsFailed = Self.counters(
            registry,
            "driftless_shard_failures_total",
            label: "fault",
            ShardFault.allCases,
            "Shard attempts reported failed by workers, by whose fault (only document faults count attempts)."
        )
        droppedMessages = Self.counters(
            registry,
            "driftless_dropped_messages_total",
            label: "reason",
            DropReason.allCases,
            "Messages dropped unapplied: malformed, out of range, oversized, from a peer not welcomed, or naming a lease or job the sender does not hold."
        )
        silentConnections = Self.counters(
            registry,
            "driftless_silent_connections_total",
            label: "endpoint",
            TransportConnections.Endpoint.allCases,
            "Connections that closed before they delivered one whole message: a frame over the endpoint's size bound (libzmq hangs up at its header), broken framing, a refused handshake, or a peer that left without a word."
        )
        shardSeconds = registry.durationHistogram(
            "driftless_shard_latency_seconds",
            "From lease to commit.",
            buckets: [
                .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(20), .seconds(60),
                .seconds(180),
            ]
        )
    }

    /// One counter per value of `Key`, all under `name` with the value as `label`.
    private static func counters<Key: RawRepresentable<String> & Hashable>(
        _ registry: PrometheusCollectorRegistry,
        _ name: String,
        label: String,
        _ keys: [Key],
        _ help: String
    ) -> [Key: Counter] {
        Dictionary(
            uniqueKeysWithValues: keys.map {
                ($0, registry.makeCounter(name: name, labels: [(label, $0.rawValue)], help: help))
            }
        )
    }
}

/// Why a message was dropped (the `reason` label of `driftless_dropped_messages_total`).
public enum DropReason: String, CaseIterable, Sendable {
    /// Not JSON, an unknown type, a missing field, or a frame count other than two.
    case malformed
    /// Well formed, a value out of range (``WireLimits``).
    case invalid
    /// Over the frame-count or byte bound of a whole message.
    case oversized
    /// A worker message other than `hello` from a peer the coordinator has not welcomed.
    case notWelcomed = "not_welcomed"
    /// A lease message from a peer that does not hold that lease (or for another shard).
    case notLeaseHolder = "not_lease_holder"
    /// A `shard_done` for a shard the database does not show committed.
    case notCommitted = "not_committed"
    /// Documents or a seal for a job this client did not open (wrong upload token).
    case notJobOwner = "not_job_owner"
    /// From a connection whose key was revoked (or whose role changed) after it connected.
    case revoked
    /// A request the sender's role may not make (an urgent job without the admin role).
    case forbidden
    /// A `hello` less than a second after the same peer's last one (each costs database work).
    case tooFrequent = "too_frequent"

}
