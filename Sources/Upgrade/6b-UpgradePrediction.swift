import Compat
import Store

/// What an upgrade is predicted to change against the old model, with its uncertainty, from the
/// label-free validation: the mean paired difference of the pseudo-queries' reciprocal ranks (the
/// new serving's minus the old model's on its own vectors), and a 95 % interval from a paired
/// bootstrap (the pseudo-queries drawn again with replacement, seeded; percentile interval).
public struct UpgradePrediction: Sendable, Equatable {
    /// The serving mode (`coord upgrade --mode`), and how it would serve: "project (procrustes)",
    /// "fuse 0.3", "rescore top 20".
    public var mode: ServingState.Mode
    public var serving: String
    /// Mean change of MRR@10 against the old model.
    public var change: Double
    public var low: Double
    public var high: Double
    public var queries: Int

    /// A loss beyond the uncertainty: even the interval's upper end is below zero.
    public var isLoss: Bool { high < 0 }

    public init(
        mode: ServingState.Mode,
        serving: String,
        new: [Double],
        old: [Double],
        resamples: Int = 2000,
        seed: UInt64 = 42
    ) {
        precondition(new.count == old.count, "paired scores")
        self.mode = mode
        self.serving = serving
        let differences = zip(new, old).map { $0 - $1 }
        queries = differences.count
        guard !differences.isEmpty else {
            (change, low, high) = (0, 0, 0)
            return
        }
        change = differences.reduce(0, +) / Double(differences.count)
        var generator = SplitMix64(seed: seed ^ 0xB007)
        var means: [Double] = []
        means.reserveCapacity(resamples)
        for _ in 0..<resamples {
            var sum = 0.0
            for _ in 0..<differences.count {
                sum += differences[Int.random(in: 0..<differences.count, using: &generator)]
            }
            means.append(sum / Double(differences.count))
        }
        means.sort()
        low = means[Int(0.025 * Double(resamples))]
        high = means[max(0, Int(0.975 * Double(resamples)) - 1)]
    }

    /// "+0.0123 (95 % interval −0.0040 to +0.0290, 400 pseudo-queries)".
    public var summary: String {
        func signed(_ value: Double) -> String { (value >= 0 ? "+" : "") + String(format: "%.4f", value) }
        return "\(signed(change)) (95 % interval \(signed(low)) to \(signed(high)), \(queries) pseudo-queries)"
    }
}
