import DriftlessTestSupport
import Embedding
import Foundation
import Testing

/// The decoder-only path (Qwen3 architecture, byte-level BPE, last-token pooling, prompts)
/// against the reference (transformers + tokenizers) for every fixture text.
@Suite("Decoder reference equivalence", .serialized)
struct DecoderEquivalenceTests {
    static let folder = TestResources.fixture("tiny-qwen3-embedding").path

    static func reference() throws -> [[String: Any]] {
        try TestResources.jsonLines(TestResources.fixture("tiny-qwen3-embedding.reference.jsonl"))
    }

    /// Each line's text with the prompt it was embedded with, as the model tokenizes it.
    static func tokens(_ model: EmbeddingModel, _ reference: [[String: Any]]) -> [[Int32]] {
        reference.map { model.tokenize($0["text"] as! String, prompt: model.prompt(named: $0["prompt"] as! String)) }
    }

    @Test("token ids equal the reference's for all 143 texts")
    func tokenIds() throws {
        let model = try EmbeddingModel(folder: Self.folder)
        let reference = try Self.reference()
        #expect(reference.count == 143)
        var mismatches: [String] = []
        for (line, ids) in zip(reference, Self.tokens(model, reference)) {
            let expected = (line["input_ids"] as! [Int]).map(Int32.init)
            if ids != expected {
                let at =
                    zip(ids, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                    ?? min(ids.count, expected.count)
                mismatches.append(
                    "\(line["id"]!) at \(at): \(ids.dropFirst(at).prefix(4)) vs \(expected.dropFirst(at).prefix(4))"
                )
            }
        }
        #expect(mismatches.isEmpty, "token ids differ: \(mismatches.prefix(10))")
    }

    @Test("embeddings equal the reference's, alone, in one batch and in mixed batches")
    func embeddings() throws {
        let model = try EmbeddingModel(folder: Self.folder)
        #expect(model.configuration.architecture == .qwen3 && model.pooling.strategy == .lastToken)
        let reference = try Self.reference()
        let expected = reference.map { ($0["embedding"] as! [Double]).map(Float.init) }
        let tokens = reference.map { ($0["input_ids"] as! [Int]).map(Int32.init) }
        let embedder = SentenceEmbedder(model: model, threads: 2)
        let together = try embedder.embed(tokens: tokens)
        let alone = try tokens.map { try embedder.embed(tokens: [$0])[0] }
        // Batches of mixed lengths: the j-th shortest text with the j-th longest.
        let order = tokens.indices.sorted { tokens[$0].count < tokens[$1].count }
        let mixed = (0..<(order.count + 1) / 2).map { j in
            j == order.count - 1 - j ? [order[j]] : [order[j], order[order.count - 1 - j]]
        }
        var inMixed = [[Float]?](repeating: nil, count: tokens.count)
        for group in mixed {
            for (index, vector) in zip(group, try embedder.embed(tokens: group.map { tokens[$0] })) {
                inMixed[index] = vector
            }
        }
        var worstCosine: Float = 1
        var worstDifference: Float = 0
        for i in tokens.indices {
            let (cosine, difference) = VectorComparison(together[i], expected[i]).pair
            worstCosine = min(worstCosine, cosine)
            worstDifference = max(worstDifference, difference)
            if cosine < 0.99999 || difference > 1e-4 {
                Issue.record("\(reference[i]["id"]!): cosine \(cosine), max abs difference \(difference)")
            }
            // The same vectors whatever the batch, up to the order of float additions (a short
            // batch takes another matrix kernel than a long one).
            let (aloneCosine, aloneDifference) = VectorComparison(alone[i], together[i]).pair
            if aloneCosine < 0.999_999 || aloneDifference > 1e-6 {
                Issue.record("\(reference[i]["id"]!): alone differs from in one batch by \(aloneDifference)")
            }
            guard let other = inMixed[i] else {
                Issue.record("\(reference[i]["id"]!): in no mixed batch")
                continue
            }
            let (mixedCosine, mixedDifference) = VectorComparison(other, together[i]).pair
            if mixedCosine < 0.999_999 || mixedDifference > 1e-6 {
                Issue.record("\(reference[i]["id"]!): a mixed batch differs from one batch by \(mixedDifference)")
            }
        }
        print("tiny-qwen3-embedding: worst cosine \(worstCosine), worst max-abs difference \(worstDifference)")
    }
}
