import LinearAlgebra
import LowPrecision

/// A dense layer `y = x Wᵀ + b` with PyTorch's weight layout (`out × in`, row-major).
struct Linear: Sendable {
    /// The float32 weights and bias; empty once the layer is lowered to another precision (its
    /// product holds them then).
    let weight: [Float]
    let bias: [Float]
    let inputs: Int
    let outputs: Int
    /// The bfloat16 or int8 product that replaces the float32 one (``lowered(to:)``).
    let lowPrecision: LowPrecisionProduct?

    init(weight: [Float], bias: [Float], inputs: Int, outputs: Int) {
        precondition(weight.count == inputs * outputs && bias.count == outputs, "linear layer shape")
        self.weight = weight
        self.bias = bias
        self.inputs = inputs
        self.outputs = outputs
        lowPrecision = nil
    }

    private init(lowered product: LowPrecisionProduct) {
        weight = []
        bias = []
        inputs = product.inputs
        outputs = product.outputs
        lowPrecision = product
    }

    /// This layer multiplying in `precision`; its float32 weights are let go. Lower layers
    /// after stacking them.
    func lowered(to precision: Precision) throws -> Linear {
        guard precision != .fp32 else { return self }
        precondition(lowPrecision == nil, "a linear layer is lowered once")
        return Linear(
            lowered: try LowPrecisionProduct(
                precision: precision,
                weight: weight,
                bias: bias,
                inputs: inputs,
                outputs: outputs
            )
        )
    }

    /// Loads `NAME.weight` and `NAME.bias` (zeros when `hasBias` is false).
    init(_ tensors: ModelWeights, _ name: String, inputs: Int, outputs: Int, bias hasBias: Bool = true) throws {
        self.init(
            weight: try tensors.floats(name + ".weight", shape: [outputs, inputs]),
            bias: hasBias
                ? try tensors.floats(name + ".bias", shape: [outputs]) : [Float](repeating: 0, count: outputs),
            inputs: inputs,
            outputs: outputs
        )
    }

    /// Stacks layers with the same input along the output axis (Q, K and V in one product).
    init(stacking layers: [Linear]) {
        precondition(layers.allSatisfy { $0.lowPrecision == nil }, "stack layers before lowering them")
        self.init(
            weight: layers.flatMap(\.weight),
            bias: layers.flatMap(\.bias),
            inputs: layers[0].inputs,
            outputs: layers.reduce(0) { $0 + $1.outputs }
        )
    }

    /// Below this many rows the product reads the weights once without packing them
    /// (``SkinnyGemm``), split across the pool by output columns: a short batch (one search
    /// query) is bound by reading the weights, and each thread reads only its share.
    static let skinnyRows = 48

    /// `y[rows × outputs] = x[rows × inputs] Wᵀ + b`, rows (or, for few rows, output columns)
    /// split across the pool.
    func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, pool: ComputePool) {
        if let lowPrecision {
            lowPrecision.forward(x, rows: rows, into: y, pool: pool)
            return
        }
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                if rows < Self.skinnyRows {
                    pool.forEachChunk(outputs, minimumChunk: 64) { columns in
                        for r in 0..<rows {
                            (y + r * outputs + columns.lowerBound).update(
                                from: b.baseAddress! + columns.lowerBound,
                                count: columns.count
                            )
                        }
                        SkinnyGemm.multiplyTransposed(
                            rows: rows,
                            outputs: columns.count,
                            inputs: inputs,
                            x: x,
                            ldx: inputs,
                            w: w.baseAddress! + columns.lowerBound * inputs,
                            ldw: inputs,
                            y: y + columns.lowerBound,
                            ldy: outputs
                        )
                    }
                    return
                }
                pool.forEachChunk(rows, minimumChunk: 16) { chunk in
                    let out = y + chunk.lowerBound * outputs
                    for r in 0..<chunk.count {
                        (out + r * outputs).update(from: b.baseAddress!, count: outputs)
                    }
                    BLAS.sgemm(
                        .none,
                        .transpose,
                        m: chunk.count,
                        n: outputs,
                        k: inputs,
                        a: x + chunk.lowerBound * inputs,
                        lda: inputs,
                        b: w.baseAddress!,
                        ldb: inputs,
                        beta: 1,
                        c: out,
                        ldc: outputs
                    )
                }
            }
        }
    }
}
