import Foundation

/// The encoder's element-wise kernels over rows of row-major `Float` matrices.
/// Synchronous; callers parallelise over rows.
enum Kernels {
    typealias Vector = VectorMath.Vector

    /// In place: `x = x · Φ(x)`, the exact (erf) GELU.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = VectorMath.load(x + i)
            VectorMath.store(v * 0.5 * (1 + VectorMath.erf(v * 0.707_106_78)), x + i)
            i += 8
        }
        while i < count {
            x[i] = x[i] * 0.5 * (1 + Foundation.erf(x[i] * 0.707_106_78))
            i += 1
        }
    }

    /// In place: one row of softmax.
    static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var sum: Float = 0
        var sums = Vector()
        var i = 0
        let shift = Vector(repeating: maximum)
        while i + 8 <= count {
            let e = VectorMath.exp(VectorMath.load(x + i) - shift)
            sums += e
            VectorMath.store(e, x + i)
            i += 8
        }
        sum = sums.sum()
        while i < count {
            let e = Foundation.exp(x[i] - maximum)
            x[i] = e
            sum += e
            i += 1
        }
        let scale = 1 / sum
        i = 0
        let s = Vector(repeating: scale)
        while i + 8 <= count {
            VectorMath.store(VectorMath.load(x + i) * s, x + i)
            i += 8
        }
        while i < count {
            x[i] *= scale
            i += 1
        }
    }

    /// `y = LayerNorm(x + y)` for one row of `count` features.
    static func addLayerNorm(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float
    ) {
        var sums = Vector()
        var i = 0
        while i + 8 <= count {
            let v = VectorMath.load(x + i) + VectorMath.load(y + i)
            VectorMath.store(v, y + i)
            sums += v
            i += 8
        }
        var sum = sums.sum()
        while i < count {
            y[i] += x[i]
            sum += y[i]
            i += 1
        }
        layerNormInPlace(y, count: count, sum: sum, gamma: gamma, beta: beta, epsilon: epsilon)
    }

    /// `y = LayerNorm(y)` for one row.
    static func layerNorm(
        _ y: UnsafeMutablePointer<Float>, count: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float
    ) {
        var sum: Float = 0
        for i in 0..<count { sum += y[i] }
        layerNormInPlace(y, count: count, sum: sum, gamma: gamma, beta: beta, epsilon: epsilon)
    }

    private static func layerNormInPlace(
        _ y: UnsafeMutablePointer<Float>, count: Int, sum: Float,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float
    ) {
        let mean = sum / Float(count)
        var squares = Vector()
        var i = 0
        let m = Vector(repeating: mean)
        while i + 8 <= count {
            let d = VectorMath.load(y + i) - m
            squares += d * d
            i += 8
        }
        var variance = squares.sum()
        while i < count {
            let d = y[i] - mean
            variance += d * d
            i += 1
        }
        variance /= Float(count)
        let inverse = 1 / (variance + epsilon).squareRoot()
        i = 0
        let s = Vector(repeating: inverse)
        while i + 8 <= count {
            let v = (VectorMath.load(y + i) - m) * s
            VectorMath.store(v * VectorMath.load(gamma + i) + VectorMath.load(beta + i), y + i)
            i += 8
        }
        while i < count {
            y[i] = (y[i] - mean) * inverse * gamma[i] + beta[i]
            i += 1
        }
    }
}
