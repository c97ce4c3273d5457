import Foundation

/// A pooling strategy and whether the prompt's tokens take part.
public struct Pooling: Sendable, Equatable {
    public var strategy: PoolingStrategy
    /// When false, the tokens of a prompt prefix are left out of the pool.
    public var includePrompt: Bool

    public init(strategy: PoolingStrategy, includePrompt: Bool = true) {
        self.strategy = strategy
        self.includePrompt = includePrompt
    }

    /// Reads `1_Pooling/config.json` (both the older flag keys and `pooling_mode`).
    public init(contentsOf url: URL) throws {
        let object = try JSONFile.object(at: url)
        includePrompt = (object["include_prompt"] as? Bool) ?? true
        if let mode = object["pooling_mode"] as? String {
            guard let strategy = PoolingStrategy(rawValue: mode.lowercased()) else {
                throw EmbeddingError.invalidConfiguration(
                    path: url.path,
                    setting: "pooling_mode",
                    reason: "is unknown: '\(mode)'"
                )
            }
            self.strategy = strategy
            return
        }
        let flags: [(String, PoolingStrategy)] = [
            ("pooling_mode_cls_token", .cls), ("pooling_mode_mean_tokens", .mean),
            ("pooling_mode_max_tokens", .max), ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLength),
            ("pooling_mode_weightedmean_tokens", .weightedMean), ("pooling_mode_lasttoken", .lastToken),
        ]
        let enabled = flags.filter { (object[$0.0] as? Bool) == true }
        guard enabled.count == 1 else {
            throw EmbeddingError.invalidConfiguration(
                path: url.path,
                setting: "pooling_mode_*",
                reason: enabled.isEmpty
                    ? "selects no pooling mode" : "selects several pooling modes; Driftless supports one"
            )
        }
        strategy = enabled[0].1
    }

    /// Pools rows `rows` of the row-major `hidden` matrix (`width` columns) into `out`.
    /// Pools the sequence in rows `rows` of the row-major `hidden` matrix
    /// (`width` columns) into `out`. Its first `masked` tokens (a prompt) are
    /// left out as the reference masks them: CLS still reads the first token,
    /// and weighted mean keeps each token's weight by its position.
    func pool(
        _ hidden: UnsafePointer<Float>,
        width: Int,
        rows: Range<Int>,
        masked: Int = 0,
        into out: UnsafeMutablePointer<Float>
    ) {
        // At least one token always takes part.
        let kept = (rows.lowerBound + min(max(masked, 0), rows.count - 1))..<rows.upperBound
        out.initialize(repeating: 0, count: width)
        switch strategy {
        case .cls:
            out.update(from: hidden + rows.lowerBound * width, count: width)
        case .lastToken:
            out.update(from: hidden + (rows.upperBound - 1) * width, count: width)
        case .max:
            out.update(from: hidden + kept.lowerBound * width, count: width)
            for r in kept.dropFirst() {
                let row = hidden + r * width
                for j in 0..<width { out[j] = Swift.max(out[j], row[j]) }
            }
        case .mean, .meanSqrtLength:
            for r in kept {
                let row = hidden + r * width
                for j in 0..<width { out[j] += row[j] }
            }
            let count = Float(kept.count)
            let scale = strategy == .mean ? 1 / count : 1 / count.squareRoot()
            for j in 0..<width { out[j] *= scale }
        case .weightedMean:
            var total: Float = 0
            for r in kept {
                let weight = Float(r - rows.lowerBound + 1)
                total += weight
                let row = hidden + r * width
                for j in 0..<width { out[j] += weight * row[j] }
            }
            for j in 0..<width { out[j] /= total }
        }
    }

}
