import DriftlessTestSupport
import Foundation
import Testing

@testable import Embedding

@Suite("Pooling")
struct PoolingTests {
    /// Three tokens of width two.
    static let hidden: [Float] = [1, -4, 3, 2, 5, 0]

    static func pool(_ strategy: PoolingStrategy, rows: Range<Int> = 0..<3) -> [Float] {
        var out = [Float](repeating: .nan, count: 2)
        hidden.withUnsafeBufferPointer { h in
            out.withUnsafeMutableBufferPointer { o in
                Pooling(strategy: strategy).pool(h.baseAddress!, width: 2, rows: rows, into: o.baseAddress!)
            }
        }
        return out
    }

    static let root3 = Float(3).squareRoot()
    static let expectations: [(PoolingStrategy, [Float])] = [
        (.mean, [3, -2 / 3]),
        (.cls, [1, -4]),
        (.lastToken, [5, 0]),
        (.max, [5, 2]),
        (.weightedMean, [22 / 6, 0]),
        (.meanSqrtLength, [9 / root3, -2 / root3]),
    ]

    @Test("each strategy pools as sentence-transformers does", arguments: expectations)
    func strategies(strategy: PoolingStrategy, expected: [Float]) {
        let pooled = Self.pool(strategy)
        for (a, b) in zip(pooled, expected) { #expect(abs(a - b) < 1e-6) }
    }

    @Test("a masked prompt is left out, but CLS reads the first token and weights keep their positions")
    func maskedPrompt() {
        func pool(_ strategy: PoolingStrategy) -> [Float] {
            var out = [Float](repeating: .nan, count: 2)
            Self.hidden.withUnsafeBufferPointer { h in
                out.withUnsafeMutableBufferPointer { o in
                    Pooling(strategy: strategy, includePrompt: false).pool(
                        h.baseAddress!,
                        width: 2,
                        rows: 0..<3,
                        masked: 1,
                        into: o.baseAddress!
                    )
                }
            }
            return out
        }
        #expect(pool(.mean) == [4, 1])
        #expect(pool(.cls) == [1, -4])
        #expect(pool(.weightedMean) == [(2 * 3 + 3 * 5) / Float(5), (2 * 2 + 3 * 0) / Float(5)])
    }

    @Test("pooling reads only the rows of its own sequence")
    func rowsOfOneSequence() {
        #expect(Self.pool(.mean, rows: 1..<3) == [4, 1])
        #expect(Self.pool(.cls, rows: 1..<3) == [3, 2])
    }

    @Test("L2 normalisation gives unit length and leaves zero vectors alone")
    func normalization() {
        var v: [Float] = [3, 4]
        v.withUnsafeMutableBufferPointer { L2Normalizer.normalize($0.baseAddress!, count: 2) }
        #expect(v == [0.6, 0.8])
        var zero: [Float] = [0, 0]
        zero.withUnsafeMutableBufferPointer { L2Normalizer.normalize($0.baseAddress!, count: 2) }
        #expect(zero == [0, 0])
    }

    @Test("pooling configuration files are read, old and new style")
    func configuration() throws {
        let dir = try TestResources.temporaryDirectory()
        let url = dir.appendingPathComponent("config.json")
        try Data(#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#.utf8).write(to: url)
        #expect(try Pooling(contentsOf: url) == Pooling(strategy: .cls))
        try Data(#"{"pooling_mode": "lasttoken", "include_prompt": false}"#.utf8).write(to: url)
        #expect(try Pooling(contentsOf: url) == Pooling(strategy: .lastToken, includePrompt: false))
        try Data(#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}"#.utf8).write(to: url)
        #expect(throws: EmbeddingError.self) { try Pooling(contentsOf: url) }
    }
}
