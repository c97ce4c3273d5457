import DriftlessTestSupport
import Foundation
import Testing

@testable import Embedding

/// Texts at the edges of the model's window, against the reference fixtures.
@Suite("Window edges", .serialized)
struct EdgeCaseTests {
    static func reference(_ model: String, id: String) throws -> (text: String, ids: [Int32], embedding: [Float]) {
        let lines = try TestResources.jsonLines(TestResources.fixture("\(model).reference.jsonl"))
        let line = try #require(lines.first { $0["id"] as? String == id })
        return (
            line["text"] as! String, (line["input_ids"] as! [Int]).map(Int32.init),
            (line["embedding"] as! [Double]).map(Float.init)
        )
    }

    static func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test(
        "a text longer than the window is truncated like the reference",
        arguments: [("all-MiniLM-L6-v2", 256), ("all-mpnet-base-v2", 384)]
    )
    func longText(model name: String, window: Int) throws {
        let model = try EmbeddingModel(folder: TestResources.model(name))
        let reference = try Self.reference(name, id: "long_science_en")
        let ids = model.tokenize(reference.text)
        #expect(ids.count == window)
        #expect(ids == reference.ids)
        #expect(ids.last == model.tokenizer.suffix.last)
        // Without truncation the text is far longer than the window.
        #expect(model.tokenizer.tokenize(reference.text).count > window + 100)
        let vector = try SentenceEmbedder(model: model, threads: 2).embed([reference.text])[0]
        #expect(Self.maxAbsoluteDifference(vector, reference.embedding) <= 1e-4)
    }

    @Test("an empty text is embedded like the reference", arguments: ["all-MiniLM-L6-v2", "all-mpnet-base-v2"])
    func emptyText(model name: String) throws {
        let model = try EmbeddingModel(folder: TestResources.model(name))
        let reference = try Self.reference(name, id: "t035")
        #expect(reference.text.isEmpty)
        #expect(model.tokenize("") == reference.ids)
        #expect(model.tokenize("") == model.tokenizer.prefix + model.tokenizer.suffix)
        let vector = try SentenceEmbedder(model: model, threads: 1).embed([""])[0]
        #expect(Self.maxAbsoluteDifference(vector, reference.embedding) <= 1e-4)
    }

    @Test("results come back in input order whatever the batching")
    func inputOrder() throws {
        let model = try EmbeddingModel(folder: TestResources.model("all-MiniLM-L6-v2"))
        // About 420 tokens in all: with a budget of one window (256) that is several batches.
        let texts = [
            "short", String(repeating: "a longer text ", count: 40), "", "medium length text here",
            String(repeating: "protein folding ", count: 60), "x", String(repeating: "cell biology ", count: 50),
        ]
        let oneByOne = try texts.map { try SentenceEmbedder(model: model, threads: 1).embed([$0])[0] }
        // A budget of one window forces several batches, cut by length, not by position.
        let embedder = SentenceEmbedder(model: model, threads: 2, tokenBudget: 1)
        #expect(embedder.batcher.batches(lengths: texts.map { model.tokenize($0).count }).count >= 2)
        let batched = try embedder.embed(texts)
        for (a, b) in zip(oneByOne, batched) {
            #expect(Self.maxAbsoluteDifference(a, b) <= 1e-5)
        }
    }

    @Test("token sequences the model cannot take are refused, naming the sequence")
    func invalidTokens() throws {
        let model = try EmbeddingModel(folder: TestResources.model("all-MiniLM-L6-v2"))
        let embedder = SentenceEmbedder(model: model, threads: 1)
        #expect(throws: EmbeddingError.invalidTokens(index: 1, reason: "has 0 ids; 1 to 512 fit the model")) {
            try embedder.embed(tokens: [[101, 102], []])
        }
        #expect(
            throws: EmbeddingError.invalidTokens(index: 0, reason: "holds id 30522, outside the vocabulary of 30522")
        ) {
            try embedder.embed(tokens: [[101, 30522, 102]])
        }
        #expect(throws: EmbeddingError.self) { try embedder.embed(tokens: [[Int32](repeating: 1000, count: 513)]) }
    }
}
