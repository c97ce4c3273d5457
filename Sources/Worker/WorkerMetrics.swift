import Prometheus
import Telemetry

/// A worker's Prometheus metrics (served on `/metrics` with `--metrics-port`).
public final class WorkerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let documents: Counter
    let tokens: Counter
    let shardsDone: Counter
    let shardsFailed: Counter
    let shardsFenced: Counter
    let commitRetries: Counter
    let docsPerSecond: Gauge
    let tokensPerSecond: Gauge
    let shardsInHand: Gauge
    let embedSeconds: DurationHistogram
    let commitSeconds: DurationHistogram

    public init() {
        documents = registry.counter("driftless_worker_documents_total", "Documents embedded and committed.")
        tokens = registry.counter("driftless_worker_tokens_total", "Tokens embedded in committed shards.")
        shardsDone = registry.counter("driftless_worker_shards_done_total", "Shards committed.")
        shardsFailed = registry.counter("driftless_worker_shard_failures_total", "Shards that failed here.")
        shardsFenced = registry.counter("driftless_worker_shards_fenced_total", "Commits refused: the lease was gone.")
        commitRetries = registry.counter(
            "driftless_worker_commit_retries_total",
            "Commits retried after losing the database."
        )
        docsPerSecond = registry.gauge("driftless_worker_docs_per_second", "Documents per second of the last shard.")
        tokensPerSecond = registry.gauge("driftless_worker_tokens_per_second", "Tokens per second of the last shard.")
        shardsInHand = registry.gauge("driftless_worker_shards_in_hand", "Shards leased to this worker (queue depth).")
        let buckets: [Duration] = [
            .milliseconds(10), .milliseconds(50), .milliseconds(200), .seconds(1), .seconds(2), .seconds(5),
            .seconds(10), .seconds(30), .seconds(120),
        ]
        embedSeconds = registry.durationHistogram(
            "driftless_worker_shard_embed_seconds",
            "Embedding time per shard.",
            buckets: buckets
        )
        commitSeconds = registry.durationHistogram(
            "driftless_worker_shard_commit_seconds",
            "Database commit time per shard.",
            buckets: buckets
        )
    }
}
