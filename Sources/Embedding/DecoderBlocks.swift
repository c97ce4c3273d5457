import Foundation

/// RMSNorm as Llama and Qwen use it: `y = w ⊙ x / √(mean(x²) + ε)`, no centring, no bias.
struct RMSNormalization: Sendable {
    let weight: [Float]
    let epsilon: Float

    init(_ tensors: ModelWeights, _ name: String, size: Int, epsilon: Float) throws {
        weight = try tensors.floats(name, shape: [size])
        self.epsilon = epsilon
    }

    var size: Int { weight.count }

    /// Normalises one row of `size` floats from `x` into `y` (which may be `x`).
    func apply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let count = weight.count
        let inverse = 1 / (Kernels.sumOfSquares(x, count: count) / Float(count) + epsilon).squareRoot()
        weight.withUnsafeBufferPointer { w in
            for i in 0..<count { y[i] = w[i] * (x[i] * inverse) }
        }
    }
}

/// Rotary position embeddings (RoPE, the "rotate half" layout of Hugging Face's Llama and
/// Qwen): dimension `i` and `i + d/2` of a head are turned by the angle `position · θ^(-2i/d)`.
/// The angles are computed in `Float` as the reference computes them, the tables once.
struct RotaryEmbedding: Sendable {
    let headSize: Int
    let positions: Int
    /// `positions × headSize/2` cosines and sines.
    let cosines: [Float]
    let sines: [Float]

    init(headSize: Int, theta: Double, positions: Int) {
        let half = headSize / 2
        let inverseFrequencies = (0..<half).map { i -> Float in
            let exponent = Float(2 * i) / Float(headSize)
            return 1 / Float(pow(theta, Double(exponent)))
        }
        var cosines = [Float](repeating: 0, count: positions * half)
        var sines = [Float](repeating: 0, count: positions * half)
        for p in 0..<positions {
            for i in 0..<half {
                let angle = Double(Float(p) * inverseFrequencies[i])
                cosines[p * half + i] = Float(cos(angle))
                sines[p * half + i] = Float(sin(angle))
            }
        }
        self.headSize = headSize
        self.positions = positions
        self.cosines = cosines
        self.sines = sines
    }

    /// Rotates one head's `headSize` floats in place for `position`.
    func apply(_ x: UnsafeMutablePointer<Float>, position: Int) {
        let half = headSize / 2
        cosines.withUnsafeBufferPointer { c in
            sines.withUnsafeBufferPointer { s in
                let c = c.baseAddress! + position * half
                let s = s.baseAddress! + position * half
                for i in 0..<half {
                    let a = x[i]
                    let b = x[i + half]
                    x[i] = a * c[i] - b * s[i]
                    x[i + half] = b * c[i] + a * s[i]
                }
            }
        }
    }
}
