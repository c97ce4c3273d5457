import Foundation

/// How token vectors become one sentence vector (sentence-transformers' `Pooling`
/// module, configured by `1_Pooling/config.json`).
public enum PoolingStrategy: String, Sendable, CaseIterable {
    /// Average of all token vectors.
    case mean
    /// The first token's vector (`[CLS]` / `<s>`).
    case cls
    /// The last token's vector (decoder-only embedders).
    case lastToken = "lasttoken"
    /// Element-wise maximum over tokens.
    case max
    /// Average weighted by position `1, 2, …, n` (later tokens count more).
    case weightedMean = "weightedmean"
    /// Sum divided by the square root of the token count.
    case meanSqrtLength = "mean_sqrt_len_tokens"
}

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
    func pool(
        _ hidden: UnsafePointer<Float>,
        width: Int,
        rows: Range<Int>,
        into out: UnsafeMutablePointer<Float>
    ) {
        let count = rows.count
        precondition(count > 0, "pooling needs at least one token")
        out.initialize(repeating: 0, count: width)
        switch strategy {
        case .cls:
            out.update(from: hidden + rows.lowerBound * width, count: width)
        case .lastToken:
            out.update(from: hidden + (rows.upperBound - 1) * width, count: width)
        case .max:
            out.update(from: hidden + rows.lowerBound * width, count: width)
            for r in rows.dropFirst() {
                let row = hidden + r * width
                for j in 0..<width { out[j] = Swift.max(out[j], row[j]) }
            }
        case .mean, .meanSqrtLength:
            for r in rows {
                let row = hidden + r * width
                for j in 0..<width { out[j] += row[j] }
            }
            let scale = strategy == .mean ? 1 / Float(count) : 1 / Float(count).squareRoot()
            for j in 0..<width { out[j] *= scale }
        case .weightedMean:
            var total: Float = 0
            for (i, r) in rows.enumerated() {
                let weight = Float(i + 1)
                total += weight
                let row = hidden + r * width
                for j in 0..<width { out[j] += weight * row[j] }
            }
            for j in 0..<width { out[j] /= total }
        }
    }
}

/// L2 normalisation (sentence-transformers' `Normalize` module).
enum L2Normalizer {
    static func normalize(_ v: UnsafeMutablePointer<Float>, count: Int) {
        var sum: Float = 0
        for j in 0..<count { sum += v[j] * v[j] }
        // torch.nn.functional.normalize divides by max(norm, 1e-12).
        let scale = 1 / Swift.max(sum.squareRoot(), 1e-12)
        for j in 0..<count { v[j] *= scale }
    }
}
