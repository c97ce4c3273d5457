import Foundation
import LinearAlgebra

/// A fitted map from a new model's embedding space (dimension `inputDimension`) into an
/// old one's (`outputDimension`): `y = x·W + b`, re-normalised to unit length. Drift has
/// no `W` (the identity). Applying one costs a matrix–vector product (microseconds).
public struct Projection: Sendable, Equatable {
    public let method: ProjectionMethod
    public let inputDimension: Int
    public let outputDimension: Int
    /// `inputDimension × outputDimension`, row-major; nil for the identity.
    public let weights: [Float]?
    /// `outputDimension` values.
    public let bias: [Float]
    /// What fitting chose and measured (λ, rank, held-out cosine, …), for reports.
    public var details: [String: Double]

    public init(
        method: ProjectionMethod, inputDimension: Int, outputDimension: Int, weights: [Float]?, bias: [Float],
        details: [String: Double] = [:]
    ) {
        precondition(weights == nil ? inputDimension == outputDimension : weights!.count == inputDimension * outputDimension)
        precondition(bias.count == outputDimension)
        self.method = method
        self.inputDimension = inputDimension
        self.outputDimension = outputDimension
        self.weights = weights
        self.bias = bias
        self.details = details
    }

    /// `x·W + b`, not normalised.
    public func map(_ x: [Float]) throws(CompatError) -> [Float] {
        guard x.count == inputDimension else { throw .wrongDimension(expected: inputDimension, got: x.count) }
        guard let weights else { return zip(x, bias).map { $0 + $1 } }
        var y = bias
        x.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer { y in
                    BLAS.vectorTimesMatrix(m: inputDimension, n: outputDimension, x: x.baseAddress!, a: w.baseAddress!, beta: 1, y: y.baseAddress!)
                }
            }
        }
        return y
    }

    /// The projected vector at unit length (what is searched with).
    public func apply(_ x: [Float]) throws(CompatError) -> [Float] { Self.unitLength(try map(x)) }

    /// `v / ‖v‖` (a zero vector stays zero).
    public static func unitLength(_ v: [Float]) -> [Float] {
        var norm: Float = 0
        for value in v { norm += value * value }
        norm = norm.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }

    // MARK: Storage

    private static let magic = Data("DLPROJ1\n".utf8)

    private struct Header: Codable {
        var method: ProjectionMethod
        var inputDimension: Int
        var outputDimension: Int
        var hasWeights: Bool
        var details: [String: Double]
    }

    /// A self-describing binary form: a magic line, a JSON header line, then the
    /// weights (if any) and the bias as little-endian float32.
    public func encoded() -> Data {
        var data = Self.magic
        let header = Header(method: method, inputDimension: inputDimension, outputDimension: outputDimension, hasWeights: weights != nil, details: details)
        data.append((try? JSONEncoder().encode(header)) ?? Data())
        data.append(UInt8(ascii: "\n"))
        for value in (weights ?? []) + bias { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    public init(decoding data: Data) throws(CompatError) {
        guard data.starts(with: Self.magic) else { throw .corrupt("not a Driftless projection (no DLPROJ1 header)") }
        let rest = data.dropFirst(Self.magic.count)
        guard let newline = rest.firstIndex(of: UInt8(ascii: "\n")),
            let header = try? JSONDecoder().decode(Header.self, from: Data(rest[..<newline]))
        else { throw .corrupt("its header is not valid JSON") }
        let body = Data(rest[rest.index(after: newline)...])
        let weightCount = header.hasWeights ? header.inputDimension * header.outputDimension : 0
        let expected = (weightCount + header.outputDimension) * 4
        guard header.inputDimension > 0, header.outputDimension > 0, body.count == expected,
            header.hasWeights || header.inputDimension == header.outputDimension
        else { throw .corrupt("\(body.count) bytes of values, expected \(expected)") }
        var floats = [Float](repeating: 0, count: body.count / 4)
        body.withUnsafeBytes { raw in
            for i in floats.indices { floats[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        }
        self.init(
            method: header.method, inputDimension: header.inputDimension, outputDimension: header.outputDimension,
            weights: header.hasWeights ? Array(floats[..<weightCount]) : nil, bias: Array(floats[weightCount...]),
            details: header.details
        )
    }
}
