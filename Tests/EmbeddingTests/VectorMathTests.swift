import Foundation
import Testing

@testable import Embedding

@Suite("Vector math")
struct VectorMathTests {
    @Test("exp matches the C library to a few ulps over softmax's range")
    func exp() {
        var worst: Float = 0
        for i in 0...20_000 {
            let x = -87 + Float(i) * 0.00435
            let expected = Foundation.exp(x)
            worst = max(worst, abs(VectorMath.exp(x) - expected) / expected)
        }
        #expect(worst < 4e-7)
        #expect(VectorMath.exp(-1000) < 1e-37)
        #expect(VectorMath.exp(0) == 1)
    }

    @Test("erf matches the C library to 1e-6 and saturates near ±1")
    func erf() {
        var worst: Float = 0
        for i in 0...20_000 {
            let x = -6 + Float(i) * 0.0006
            worst = max(worst, abs(VectorMath.erf(x) - Foundation.erf(x)))
        }
        #expect(worst < 1e-6)
        #expect(abs(VectorMath.erf(50) - 1) <= 2e-7)
        #expect(abs(VectorMath.erf(-50) + 1) <= 2e-7)
    }

    @Test("softmax rows sum to one and keep order")
    func softmax() {
        var row: [Float] = (0..<37).map { Float($0 % 11) - 5 }
        let original = row
        row.withUnsafeMutableBufferPointer { Kernels.softmax($0.baseAddress!, count: $0.count) }
        #expect(abs(row.reduce(0, +) - 1) < 1e-6)
        let m = original.max()!
        let z = original.reduce(Float(0)) { $0 + Foundation.exp($1 - m) }
        for (p, x) in zip(row, original) { #expect(abs(p - Foundation.exp(x - m) / z) < 1e-7) }
    }

    @Test("layer norm gives zero mean and unit variance before scale and shift")
    func layerNorm() {
        var row: [Float] = (0..<19).map { Float($0 * $0) / 7 }
        let gamma = [Float](repeating: 2, count: 19)
        let beta = [Float](repeating: 1, count: 19)
        row.withUnsafeMutableBufferPointer {
            Kernels.layerNorm($0.baseAddress!, count: 19, gamma: gamma, beta: beta, epsilon: 1e-12)
        }
        let normalized = row.map { ($0 - 1) / 2 }
        let mean = normalized.reduce(0, +) / 19
        let variance = normalized.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 19
        #expect(abs(mean) < 1e-6)
        #expect(abs(variance - 1) < 1e-5)
    }
}
