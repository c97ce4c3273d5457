import LinearAlgebra

/// Layer normalisation over the feature axis, with learned scale and shift.
struct LayerNormalization: Sendable {
    let gamma: [Float]
    let beta: [Float]
    let epsilon: Float

    init(_ tensors: ModelWeights, _ name: String, size: Int, epsilon: Float) throws {
        gamma = try tensors.floats(name + ".weight", shape: [size])
        beta = try tensors.floats(name + ".bias", shape: [size])
        self.epsilon = epsilon
    }

    /// `y = LayerNorm(residual + y)` row by row (`LayerNorm(y)` without a
    /// residual), rows split across the pool.
    func forward(
        _ y: UnsafeMutablePointer<Float>,
        adding residual: UnsafePointer<Float>? = nil,
        rows: Int,
        pool: ComputePool
    ) {
        let width = gamma.count
        gamma.withUnsafeBufferPointer { g in
            beta.withUnsafeBufferPointer { b in
                pool.forEachChunk(rows, minimumChunk: 16) { chunk in
                    for r in chunk {
                        let row = y + r * width
                        if let residual {
                            Kernels.add(residual + r * width, into: row, count: width)
                        }
                        Kernels.layerNorm(
                            row,
                            count: width,
                            gamma: g.baseAddress!,
                            beta: b.baseAddress!,
                            epsilon: epsilon
                        )
                    }
                }
            }
        }
    }
}
