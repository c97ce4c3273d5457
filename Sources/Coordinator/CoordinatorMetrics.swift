import Prometheus
import Telemetry

/// The coordinator's Prometheus metrics (served by ``MetricsEndpoint`` on `/metrics`).
public final class CoordinatorMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let documentsIndexed: Counter
    let tokensIndexed: Counter
    let shardsDealt: Counter
    let shardsDone: Counter
    let shardsFailed: Counter
    let shardsFenced: Counter
    let leasesExpired: Counter
    let documentsRejected: Counter
    let malformedMessages: Counter
    let rejectedConnections: Counter
    let databaseErrors: Counter
    let jobsFinished: Counter
    let queueDepth: Gauge
    let workers: Gauge
    let docsPerSecond: Gauge
    let shardSeconds: DurationHistogram

    public init() {
        documentsIndexed = registry.counter("driftless_documents_indexed_total", "Documents committed by workers.")
        tokensIndexed = registry.counter("driftless_tokens_indexed_total", "Tokens embedded in committed shards.")
        shardsDealt = registry.counter(
            "driftless_shards_dealt_total",
            "Shard leases granted (copies and retries included)."
        )
        shardsDone = registry.counter("driftless_shards_done_total", "Shards committed.")
        shardsFailed = registry.counter("driftless_shard_failures_total", "Shard attempts reported failed by workers.")
        shardsFenced = registry.counter("driftless_shards_fenced_total", "Commits refused because the lease was gone.")
        leasesExpired = registry.counter("driftless_leases_expired_total", "Leases revoked for lack of heartbeats.")
        documentsRejected = registry.counter(
            "driftless_documents_rejected_total",
            "Documents isolated because they fail every time."
        )
        malformedMessages = registry.counter(
            "driftless_malformed_messages_total",
            "Wire messages dropped as malformed or unknown."
        )
        rejectedConnections = registry.counter(
            "driftless_rejected_connections_total",
            "CURVE handshakes refused (key not authorised)."
        )
        databaseErrors = registry.counter("driftless_database_errors_total", "Database operations that failed.")
        jobsFinished = registry.counter("driftless_jobs_finished_total", "Jobs completed.")
        queueDepth = registry.gauge("driftless_queue_depth", "Shards waiting to be dealt.")
        workers = registry.gauge("driftless_workers", "Workers connected.")
        docsPerSecond = registry.gauge(
            "driftless_docs_per_second",
            "Documents per second over the last completed shards."
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
}
