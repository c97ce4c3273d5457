/// The encoder's element-wise kernels over rows of row-major `Float` matrices.
/// Synchronous; callers parallelise over rows. Loops are kept simple so that
/// LLVM vectorises them; reductions keep eight partial results for the same reason.
enum Kernels {
    /// In place: `x = x · Φ(x)`, the exact (erf) GELU.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            x[i] = v * 0.5 * (1 + VectorMath.erf(v * 0.707_106_78))
        }
    }

    /// `out = SiLU(gate) ⊙ up`, SiLU(x) = x·σ(x) (SwiGLU's gating).
    static func swiGLU(
        _ gate: UnsafePointer<Float>,
        up: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>,
        count: Int
    ) {
        for i in 0..<count {
            let g = gate[i]
            out[i] = g / (1 + VectorMath.exp(-g)) * up[i]
        }
    }

    /// In place: one row of softmax.
    static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        scale(x, by: 1 / exponentiate(x, count: count), count: count)
    }

    /// In place: `x = exp(x - max(x))`, returning the row's sum: softmax less
    /// its division, which the caller may apply after a product instead.
    static func exponentiate(_ x: UnsafeMutablePointer<Float>, count: Int) -> Float {
        let maximum = max(x, count: count)
        for i in 0..<count { x[i] = VectorMath.exp(x[i] - maximum) }
        return sum(x, count: count)
    }

    /// In place: `x *= factor`.
    static func scale(_ x: UnsafeMutablePointer<Float>, by factor: Float, count: Int) {
        for i in 0..<count { x[i] *= factor }
    }

    /// `y += x` over one row.
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// `y = LayerNorm(y)` for one row: biased variance, as PyTorch.
    static func layerNorm(
        _ y: UnsafeMutablePointer<Float>,
        count: Int,
        gamma: UnsafePointer<Float>,
        beta: UnsafePointer<Float>,
        epsilon: Float
    ) {
        let mean = sum(y, count: count) / Float(count)
        for i in 0..<count { y[i] -= mean }
        let variance = sumOfSquares(y, count: count) / Float(count)
        let inverse = 1 / (variance + epsilon).squareRoot()
        for i in 0..<count { y[i] = y[i] * inverse * gamma[i] + beta[i] }
    }

    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var s = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            s += SIMD8(x[i], x[i + 1], x[i + 2], x[i + 3], x[i + 4], x[i + 5], x[i + 6], x[i + 7])
            i += 8
        }
        var total = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
        while i < count {
            total += x[i]
            i += 1
        }
        return total
    }

    @inline(__always)
    static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var s = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let v = SIMD8(x[i], x[i + 1], x[i + 2], x[i + 3], x[i + 4], x[i + 5], x[i + 6], x[i + 7])
            s += v * v
            i += 8
        }
        var total = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
        while i < count {
            total += x[i] * x[i]
            i += 1
        }
        return total
    }

    @inline(__always)
    static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var m0 = -Float.infinity
        var m1 = m0
        var m2 = m0
        var m3 = m0
        var m4 = m0
        var m5 = m0
        var m6 = m0
        var m7 = m0
        var i = 0
        while i + 8 <= count {
            m0 = Swift.max(m0, x[i])
            m1 = Swift.max(m1, x[i + 1])
            m2 = Swift.max(m2, x[i + 2])
            m3 = Swift.max(m3, x[i + 3])
            m4 = Swift.max(m4, x[i + 4])
            m5 = Swift.max(m5, x[i + 5])
            m6 = Swift.max(m6, x[i + 6])
            m7 = Swift.max(m7, x[i + 7])
            i += 8
        }
        var m = Swift.max(
            Swift.max(Swift.max(m0, m1), Swift.max(m2, m3)),
            Swift.max(Swift.max(m4, m5), Swift.max(m6, m7))
        )
        while i < count {
            m = Swift.max(m, x[i])
            i += 1
        }
        return m
    }
}
