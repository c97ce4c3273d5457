import LinearAlgebra

/// Layer normalisation over the feature axis, with learned scale and shift.
struct LayerNormalization: Sendable {
    let gamma: [Float]
    let beta: [Float]
    let epsilon: Float

    init(_ tensors: SafeTensors, _ name: String, size: Int, epsilon: Float) throws {
        gamma = try tensors.floats(name + ".weight", shape: [size])
        beta = try tensors.floats(name + ".bias", shape: [size])
        self.epsilon = epsilon
    }

    /// `y = LayerNorm(x + y)` row by row, rows split across the pool.
    func addForward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, pool: ComputePool) {
        let width = gamma.count
        gamma.withUnsafeBufferPointer { g in
            beta.withUnsafeBufferPointer { b in
                pool.forEachChunk(rows, minimumChunk: 16) { chunk in
                    for r in chunk {
                        Kernels.addLayerNorm(
                            x + r * width, y + r * width, count: width,
                            gamma: g.baseAddress!, beta: b.baseAddress!, epsilon: epsilon)
                    }
                }
            }
        }
    }

    /// `y = LayerNorm(y)` row by row.
    func forward(_ y: UnsafeMutablePointer<Float>, rows: Int, pool: ComputePool) {
        let width = gamma.count
        gamma.withUnsafeBufferPointer { g in
            beta.withUnsafeBufferPointer { b in
                pool.forEachChunk(rows, minimumChunk: 16) { chunk in
                    for r in chunk {
                        Kernels.layerNorm(y + r * width, count: width, gamma: g.baseAddress!, beta: b.baseAddress!, epsilon: epsilon)
                    }
                }
            }
        }
    }
}
