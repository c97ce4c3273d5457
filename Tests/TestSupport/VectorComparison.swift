/// How far a vector is from an expected one: the cosine of their angle and the largest
/// difference of one component (the tests' one measure of "the same vector").
public struct VectorComparison: Sendable, Equatable {
    /// -2 when the vectors differ in length or are empty (never a cosine).
    public let cosine: Float
    public let maximumDifference: Float

    public init(_ a: [Float], _ b: [Float]) {
        guard a.count == b.count, !a.isEmpty else {
            (cosine, maximumDifference) = (-2, .infinity)
            return
        }
        var dot: Float = 0
        var x: Float = 0
        var y: Float = 0
        var difference: Float = 0
        for (p, q) in zip(a, b) {
            dot += p * q
            x += p * p
            y += q * q
            difference = max(difference, abs(p - q))
        }
        cosine = dot / (x.squareRoot() * y.squareRoot())
        maximumDifference = difference
    }

    /// (cosine, largest difference), for `let (c, d) = …`.
    public var pair: (cosine: Float, difference: Float) { (cosine, maximumDifference) }
}

/// The cosine of the angle between `a` and `b` (-2 when their lengths differ or they are empty).
public func cosine(_ a: [Float], _ b: [Float]) -> Float { VectorComparison(a, b).cosine }
