import DriftlessTestSupport
import Embedding
import Foundation
import Testing

/// The acceptance test of the engine: token ids and embeddings equal the
/// reference implementation's (sentence-transformers) for every fixture text.
@Suite("Reference equivalence", .serialized)
struct ReferenceEquivalenceTests {
    static let models = ["all-MiniLM-L6-v2", "all-mpnet-base-v2", "all-MiniLM-L6-v2-scifact-ft"]

    @Test("token ids and embeddings equal the reference", arguments: models)
    func matchesReference(modelName: String) throws {
        let model = try EmbeddingModel(folder: TestResources.model(modelName))
        let reference = try TestResources.jsonLines(TestResources.fixture("\(modelName).reference.jsonl"))
        #expect(reference.count == 143)
        let texts = reference.map { $0["text"] as! String }

        var tokenMismatches: [String] = []
        let tokens = texts.map { model.tokenize($0) }
        for (line, ids) in zip(reference, tokens) {
            let expected = (line["input_ids"] as! [Int]).map(Int32.init)
            if ids != expected { tokenMismatches.append(line["id"] as! String) }
        }
        #expect(tokenMismatches.isEmpty, "token ids differ for \(tokenMismatches)")

        let embedder = SentenceEmbedder(model: model, threads: 2)
        let vectors = try embedder.embed(texts)
        var worstCosine: Float = 1
        var worstDifference: Float = 0
        for (line, vector) in zip(reference, vectors) {
            let expected = (line["embedding"] as! [Double]).map(Float.init)
            #expect(vector.count == expected.count)
            let comparison = VectorComparison(vector, expected)
            let cosine = comparison.cosine
            worstDifference = max(worstDifference, comparison.maximumDifference)
            if cosine < 0.99999 { Issue.record("\(line["id"]!): cosine \(cosine)") }
            worstCosine = min(worstCosine, cosine)
        }
        #expect(worstCosine >= 0.99999)
        #expect(worstDifference <= 1e-4)
        print("\(modelName): worst cosine \(worstCosine), worst max-abs difference \(worstDifference)")
    }
}
