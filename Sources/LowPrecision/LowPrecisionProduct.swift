import CLowPrecision
import LinearAlgebra

/// A dense layer's product `y = x Wᵀ + b` in bfloat16 or int8, built once from the float32
/// weights (PyTorch's `outputs × inputs` layout). Rows are split across the pool; each thread
/// makes its own oneDNN call on one thread, with its own scratch.
public final class LowPrecisionProduct: @unchecked Sendable {
    public let precision: Precision
    public let inputs: Int
    public let outputs: Int
    private let bias: [Float]
    private let kernel: Kernel

    // @unchecked Sendable: every field is immutable after init; the oneDNN product is
    // documented safe to run from several threads at once (its scratch is the caller's).
    private enum Kernel {
        /// oneDNN's bfloat16 matmul.
        case bf16(OpaquePointer)
        /// No bfloat16 on this CPU: float32 products of bfloat16-rounded weights and inputs.
        case bf16Emulated(weights: [Float])
        /// Per-output-channel int8 weights with their scales and sums; inputs quantized to `levels`.
        case int8(weights: [Int8], scales: [Float], sums: [Int32], levels: Int32)
    }

    /// Lowers float32 weights (`outputs × inputs`) and bias to `precision` (not fp32).
    public init(
        precision: Precision,
        weight: [Float],
        bias: [Float],
        inputs: Int,
        outputs: Int
    ) throws(LowPrecisionError) {
        precondition(weight.count == inputs * outputs && bias.count == outputs, "low-precision layer shape")
        self.precision = precision
        self.inputs = inputs
        self.outputs = outputs
        self.bias = bias
        switch precision {
        case .fp32:
            preconditionFailure("fp32 layers are not lowered")
        case .bf16:
            if OneDNN.hasBF16 {
                var reason = [CChar](repeating: 0, count: 256)
                let product = weight.withUnsafeBufferPointer {
                    dl_bf16_product_create(inputs, outputs, $0.baseAddress!, &reason, reason.count)
                }
                guard let product else {
                    throw .oneDNN(
                        String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    )
                }
                kernel = .bf16(product)
            } else {
                kernel = .bf16Emulated(weights: Self.roundedToBFloat16(weight))
            }
        case .int8:
            var quantized = [Int8](repeating: 0, count: weight.count)
            var scales = [Float](repeating: 1, count: outputs)
            var sums = [Int32](repeating: 0, count: outputs)
            for o in 0..<outputs {
                let row = weight[(o * inputs)..<((o + 1) * inputs)]
                let largest = row.reduce(Float(0)) { max($0, abs($1)) }
                let scale = largest > 0 ? largest / 127 : 1
                var sum: Int32 = 0
                for (k, w) in row.enumerated() {
                    let q = Int8((w / scale).rounded(.toNearestOrEven))
                    quantized[o * inputs + k] = q
                    sum += Int32(q)
                }
                scales[o] = scale
                sums[o] = sum
            }
            kernel = .int8(weights: quantized, scales: scales, sums: sums, levels: OneDNN.hasVNNI ? 255 : 127)
        }
    }

    deinit {
        if case .bf16(let product) = kernel { dl_bf16_product_destroy(product) }
    }

    /// `y[rows × outputs] = x[rows × inputs] Wᵀ + b`, rows split across the pool.
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, pool: ComputePool) {
        pool.forEachChunk(rows, minimumChunk: 16) { chunk in
            let x = x + chunk.lowerBound * inputs
            let y = y + chunk.lowerBound * outputs
            let n = chunk.count
            switch kernel {
            case .bf16(let product):
                let rounded = UnsafeMutablePointer<UInt16>.allocate(capacity: n * inputs)
                defer { rounded.deallocate() }
                dl_to_bf16(x, rounded, n * inputs)
                let status = dl_bf16_product_run(product, rounded, n, y, outputs)
                precondition(status == 0, "oneDNN bfloat16 matmul failed with status \(status)")
                addBias(y, rows: n)
            case .bf16Emulated(let weights):
                let rounded = UnsafeMutablePointer<Float>.allocate(capacity: n * inputs)
                defer { rounded.deallocate() }
                Self.roundToBFloat16(x, into: rounded, count: n * inputs)
                for r in 0..<n { (y + r * outputs).update(from: bias, count: outputs) }
                weights.withUnsafeBufferPointer { w in
                    BLAS.sgemm(
                        .none,
                        .transpose,
                        m: n,
                        n: outputs,
                        k: inputs,
                        a: rounded,
                        lda: inputs,
                        b: w.baseAddress!,
                        ldb: inputs,
                        beta: 1,
                        c: y,
                        ldc: outputs
                    )
                }
            case .int8(let weights, let scales, let sums, let levels):
                let quantized = UnsafeMutablePointer<UInt8>.allocate(capacity: n * inputs)
                let rowScales = UnsafeMutablePointer<Float>.allocate(capacity: n)
                let zeros = UnsafeMutablePointer<Int32>.allocate(capacity: n)
                let products = UnsafeMutablePointer<Int32>.allocate(capacity: n * outputs)
                defer {
                    quantized.deallocate()
                    rowScales.deallocate()
                    zeros.deallocate()
                    products.deallocate()
                }
                dl_quantize_rows(x, n, inputs, inputs, levels, quantized, rowScales, zeros)
                let status = weights.withUnsafeBufferPointer {
                    dl_gemm_u8s8(n, outputs, inputs, quantized, $0.baseAddress!, products)
                }
                precondition(status == 0, "oneDNN integer GEMM failed with status \(status)")
                dl_dequantize_rows(products, n, outputs, rowScales, zeros, scales, sums, bias, y, outputs)
            }
        }
    }

    private func addBias(_ y: UnsafeMutablePointer<Float>, rows: Int) {
        bias.withUnsafeBufferPointer { b in
            for r in 0..<rows {
                let row = y + r * outputs
                for o in 0..<outputs { row[o] += b[o] }
            }
        }
    }

    /// Floats rounded to the nearest bfloat16 (ties to even), widened back.
    static func roundedToBFloat16(_ values: [Float]) -> [Float] {
        [Float](unsafeUninitializedCapacity: values.count) { out, initialized in
            values.withUnsafeBufferPointer {
                roundToBFloat16($0.baseAddress!, into: out.baseAddress!, count: values.count)
            }
            initialized = values.count
        }
    }

    static func roundToBFloat16(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        let halves = UnsafeMutablePointer<UInt16>.allocate(capacity: count)
        defer { halves.deallocate() }
        dl_to_bf16(x, halves, count)
        dl_from_bf16(halves, out, count)
    }
}

public enum LowPrecisionError: Error, CustomStringConvertible, Equatable {
    case oneDNN(String)

    public var description: String {
        switch self {
        case .oneDNN(let reason): "oneDNN refused the bfloat16 product: \(reason)"
        }
    }
}
