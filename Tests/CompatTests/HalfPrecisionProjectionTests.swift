import Compat
import Foundation
import LinearAlgebra
import Testing

@Suite("HalfPrecisionProjection")
struct HalfPrecisionProjectionTests {
    static func projection(_ n: Int, _ o: Int, seed: UInt64) -> Projection {
        var generator = SplitMix64(seed: seed)
        return Projection(
            method: .affine,
            inputDimension: n,
            outputDimension: o,
            weights: (0..<(n * o)).map { _ in Float.random(in: -0.1...0.1, using: &generator) },
            bias: (0..<o).map { _ in Float.random(in: -0.05...0.05, using: &generator) }
        )
    }

    @Test(
        "agrees with the float32 projection to half precision's rounding, whole blocks or not",
        arguments: [(768, 384), (50, 37), (16, 130)]
    )
    func agrees(dimensions: (Int, Int)) throws {
        let exact = Self.projection(dimensions.0, dimensions.1, seed: 3)
        let half = HalfPrecisionProjection(exact)
        let queries = ProjectionFitterTests.gaussian(20, dimensions.0, seed: 11).map(Projection.unitLength)
        for query in queries {
            let a = try exact.apply(query)
            let b = try half.apply(query)
            #expect(a.count == b.count)
            let largest = zip(a, b).map { abs($0 - $1) }.max() ?? 1
            #expect(largest < 2e-3, "largest difference \(largest)")
            let cosine = zip(a, b).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(cosine > 0.99999)
        }
    }

    @Test("a projection without weights (drift) and a vector of the wrong length")
    func driftAndWrongLength() throws {
        let drift = Projection(
            method: .drift,
            inputDimension: 4,
            outputDimension: 4,
            weights: nil,
            bias: [0.5, 0, 0, 0]
        )
        let half = HalfPrecisionProjection(drift)
        #expect(try half.apply([0, 1, 0, 0]) == drift.apply([0, 1, 0, 0]))
        #expect(throws: CompatError.self) { try half.apply([1, 2, 3]) }
        #expect(throws: CompatError.self) { try HalfPrecisionProjection(Self.projection(8, 4, seed: 1)).apply([1]) }
    }
}
