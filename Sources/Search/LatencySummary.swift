/// Percentiles of a set of latencies (nearest rank), in milliseconds.
public struct LatencySummary: Sendable, Codable, Equatable {
    public var count: Int
    public var p50: Double
    public var p99: Double
    public var mean: Double

    /// `seconds`: one latency per operation.
    public init(seconds: [Double]) {
        let sorted = seconds.sorted()
        count = sorted.count
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank, 1), sorted.count) - 1] * 1000
        }
        p50 = percentile(50)
        p99 = percentile(99)
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count) * 1000
    }
}
