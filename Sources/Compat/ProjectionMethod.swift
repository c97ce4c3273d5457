/// How a projection from a new embedding space to an old one is fitted.
public enum ProjectionMethod: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Query drift compensation (Goswami et al. 2025): add the mean drift `mean(old) − mean(new)`. Same dimension only.
    case drift
    /// Orthogonal Procrustes on centred pairs (semi-orthogonal when the dimensions differ),
    /// optionally with a per-dimension scale.
    case procrustes
    /// Ridge least squares `x·W + b`, any n → o, λ chosen on held-out pairs.
    case affine
    /// Ridge regression reduced to rank r (reduced-rank regression).
    case lowrank
    /// The affine map plus a small residual MLP `relu(x·A + c)·B` fitted to what it leaves
    /// (Drift-Adapter's residual MLP): Adam, seeded, early stopping on held-out pairs.
    case mlp

    public var description: String { rawValue }
}
