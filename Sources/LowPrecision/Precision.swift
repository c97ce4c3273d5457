/// The number format a model's dense layers multiply in. Part of the model's identity: an index
/// is built in one precision, and every vector in it (and its queries) comes from that one.
public enum Precision: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// 32-bit floats throughout: exact against the reference implementation.
    case fp32
    /// Weights and layer inputs rounded to bfloat16, products summed in 32-bit floats.
    case bf16
    /// Weights quantized to 8-bit integers per output channel (symmetric), layer inputs per row
    /// (asymmetric, at run time), products summed in 32-bit integers: ONNX Runtime's dynamic
    /// quantization, with a scale per row instead of per tensor.
    case int8

    public var description: String { rawValue }

    /// Of `asked`, the precisions a worker offers to a coordinator on this CPU: every worker's
    /// vectors of one precision must be the same, and without VNNI int8 inputs are quantized to
    /// 7 bits instead of 8 (other vectors), so int8 is left out there.
    public static func offered(_ asked: [Precision]) -> [Precision] {
        asked.filter { $0 != .int8 || OneDNN.hasVNNI }
    }

    /// Parses a setting's value, naming the choices when it is none of them.
    public init(setting value: String) throws(PrecisionError) {
        guard let precision = Precision(rawValue: value.lowercased()) else {
            throw PrecisionError.unknown(value)
        }
        self = precision
    }
}

public enum PrecisionError: Error, CustomStringConvertible, Equatable {
    case unknown(String)

    public var description: String {
        switch self {
        case .unknown(let value):
            "precision '\(value)' is not one of \(Precision.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }
}
