import Foundation
import LinearAlgebra

/// A fitted map from a new model's embedding space (dimension `inputDimension`) into an
/// old one's (`outputDimension`): `y = x·W + b`, plus for `mlp` a residual block
/// `relu(x·A + c)·B`, re-normalised to unit length. Drift has no `W` (the identity).
/// Applying one costs a matrix–vector product or three (microseconds).
public struct Projection: Sendable, Equatable {
    /// `mlp`'s residual block: `relu(x·A + c)·B` with `hidden` units.
    public struct Residual: Sendable, Equatable {
        public let hidden: Int
        /// `A`: `inputDimension × hidden`, row-major.
        public let inWeights: [Float]
        /// `c`: `hidden` values.
        public let inBias: [Float]
        /// `B`: `hidden × outputDimension`, row-major.
        public let outWeights: [Float]

        public init(hidden: Int, inWeights: [Float], inBias: [Float], outWeights: [Float]) {
            precondition(inBias.count == hidden && hidden > 0)
            self.hidden = hidden
            self.inWeights = inWeights
            self.inBias = inBias
            self.outWeights = outWeights
        }
    }

    public let method: ProjectionMethod
    public let inputDimension: Int
    public let outputDimension: Int
    /// `inputDimension × outputDimension`, row-major; nil for the identity.
    public let weights: [Float]?
    /// `outputDimension` values.
    public let bias: [Float]
    /// `mlp` only.
    public let residual: Residual?
    /// What fitting chose and measured (λ, rank, held-out cosine, …), for reports.
    public var details: [String: Double]

    public init(
        method: ProjectionMethod,
        inputDimension: Int,
        outputDimension: Int,
        weights: [Float]?,
        bias: [Float],
        residual: Residual? = nil,
        details: [String: Double] = [:]
    ) {
        precondition(
            weights == nil ? inputDimension == outputDimension : weights!.count == inputDimension * outputDimension
        )
        precondition(bias.count == outputDimension)
        if let residual {
            precondition(residual.inWeights.count == inputDimension * residual.hidden)
            precondition(residual.outWeights.count == residual.hidden * outputDimension)
        }
        self.residual = residual
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
        Self.accumulate(x, through: weights, into: &y)
        if let residual {
            var hidden = residual.inBias
            Self.accumulate(x, through: residual.inWeights, into: &hidden)
            for i in hidden.indices where hidden[i] < 0 { hidden[i] = 0 }
            Self.accumulate(hidden, through: residual.outWeights, into: &y)
        }
        return y
    }

    /// `y += x·M` for a row-major `x.count × y.count` matrix `M`.
    static func accumulate(_ x: [Float], through matrix: [Float], into y: inout [Float]) {
        let (m, n) = (x.count, y.count)
        x.withUnsafeBufferPointer { x in
            matrix.withUnsafeBufferPointer { a in
                y.withUnsafeMutableBufferPointer { y in
                    BLAS.vectorTimesMatrix(m: m, n: n, x: x.baseAddress!, a: a.baseAddress!, beta: 1, y: y.baseAddress!)
                }
            }
        }
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
        /// mlp's hidden units (absent: no residual block).
        var hidden: Int?
        var details: [String: Double]
    }

    /// A self-describing binary form: a magic line, a JSON header line, then the
    /// weights (if any), the bias and the residual block's A, c and B (if any) as little-endian float32.
    public func encoded() -> Data {
        var data = Self.magic
        let header = Header(
            method: method,
            inputDimension: inputDimension,
            outputDimension: outputDimension,
            hasWeights: weights != nil,
            hidden: residual?.hidden,
            details: details
        )
        data.append((try? JSONEncoder().encode(header)) ?? Data())
        data.append(UInt8(ascii: "\n"))
        let values = (weights ?? []) + bias + (residual.map { $0.inWeights + $0.inBias + $0.outWeights } ?? [])
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
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
        let hidden = header.hidden ?? 0
        let residualCount = hidden * (header.inputDimension + 1 + header.outputDimension)
        let expected = (weightCount + header.outputDimension + residualCount) * 4
        guard header.inputDimension > 0, header.outputDimension > 0, hidden >= 0, body.count == expected,
            header.hasWeights || (header.inputDimension == header.outputDimension && hidden == 0)
        else { throw .corrupt("\(body.count) bytes of values, expected \(expected)") }
        var floats = [Float](repeating: 0, count: body.count / 4)
        body.withUnsafeBytes { raw in
            for i in floats.indices {
                floats[i] = Float(
                    bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                )
            }
        }
        let biasEnd = weightCount + header.outputDimension
        var residual: Residual?
        if hidden > 0 {
            let aEnd = biasEnd + header.inputDimension * hidden
            residual = Residual(
                hidden: hidden,
                inWeights: Array(floats[biasEnd..<aEnd]),
                inBias: Array(floats[aEnd..<(aEnd + hidden)]),
                outWeights: Array(floats[(aEnd + hidden)...])
            )
        }
        self.init(
            method: header.method,
            inputDimension: header.inputDimension,
            outputDimension: header.outputDimension,
            weights: header.hasWeights ? Array(floats[..<weightCount]) : nil,
            bias: Array(floats[weightCount..<biasEnd]),
            residual: residual,
            details: header.details
        )
    }
}
