/// Why a projection could not be fitted, stored or applied; each case names the setting or data at fault.
public enum CompatError: Error, Equatable, CustomStringConvertible {
    /// Paired samples disagree in count or dimension.
    case mismatchedPairs(String)
    case tooFewPairs(have: Int, need: Int)
    /// A method that needs equal dimensions (drift) asked to map n → o with n ≠ o.
    case dimensionsDiffer(method: String, input: Int, output: Int)
    case invalidSetting(String)
    case numerical(String)
    case corrupt(String)
    /// A vector of the wrong length given to ``Projection/apply(_:)``.
    case wrongDimension(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .mismatchedPairs(let what): "paired embeddings do not match: \(what)"
        case .tooFewPairs(let have, let need):
            "\(have) pairs are too few to fit this projection (need at least \(need))"
        case .dimensionsDiffer(let method, let input, let output):
            "\(method) maps a space onto one of the same dimension; the new model has \(input), the old \(output) (use procrustes, affine, lowrank or mlp)"
        case .invalidSetting(let message): message
        case .numerical(let message): "fitting failed: \(message)"
        case .corrupt(let message): "stored projection unreadable: \(message)"
        case .wrongDimension(let expected, let got): "a \(got)-d vector given to a projection from \(expected)-d"
        }
    }
}
