import Prometheus

/// The service's Prometheus metrics: requests by route and status, latency by route, and the
/// sizes of the micro-batched model calls.
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let batchSizes: ValueHistogram
    /// Requests being answered now (a scrape counts itself).
    let inFlight: Gauge

    nonisolated(unsafe) private static let requests = MetricNameDescriptor(
        namespace: "driftless",
        subsystem: "api",
        metricName: "requests",
        unitName: "total",
        helpText: "HTTP requests answered, by route, method and status."
    )
    nonisolated(unsafe) private static let duration = MetricNameDescriptor(
        namespace: "driftless",
        subsystem: "api",
        metricName: "request_duration",
        unitName: "seconds",
        helpText: "Time from request to response, by route and method."
    )
    private static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
    ]

    init() {
        inFlight = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "driftless",
                subsystem: "api",
                metricName: "requests_in",
                unitName: "flight",
                helpText: "Requests being answered now (a scrape counts itself)."
            )
        )
        batchSizes = registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "driftless",
                subsystem: "api",
                metricName: "model_batch",
                unitName: "texts",
                helpText: "Texts embedded per model call (concurrent requests gathered into one call)."
            ),
            labels: [],
            buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256]
        )
    }

    func observe(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: Self.requests,
            labels: [("route", route), ("method", method), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Self.duration,
            labels: [("route", route), ("method", method)],
            buckets: Self.buckets
        ).record(duration)
    }
}
