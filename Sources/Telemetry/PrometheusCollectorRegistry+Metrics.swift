import Prometheus

extension PrometheusCollectorRegistry {
    /// A counter named in full (`driftless_…_total`) with its help text.
    public func counter(_ name: String, _ help: String) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
    }

    public func gauge(_ name: String, _ help: String) -> Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
    }

    /// A latency histogram; `buckets` are the upper bounds.
    public func durationHistogram(_ name: String, _ help: String, buckets: [Duration]) -> DurationHistogram {
        makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help),
            buckets: buckets
        )
    }
}
