import DriftlessTestSupport
import Foundation
import Testing

@testable import Embedding

/// Bad model folders fail with an error that names the file and setting at fault.
@Suite("Model loading", .serialized)
struct ModelLoadingTests {
    /// A copy of all-MiniLM-L6-v2's folder whose weights are a symbolic link,
    /// so tests can break one file at a time cheaply.
    static func copyOfMiniLM() throws -> URL {
        let source = URL(fileURLWithPath: TestResources.model("all-MiniLM-L6-v2"))
        let copy = try TestResources.temporaryDirectory().appendingPathComponent("all-MiniLM-L6-v2")
        let fm = FileManager.default
        try fm.createDirectory(at: copy, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: source.path) where !name.hasPrefix(".") {
            let from = source.appendingPathComponent(name)
            if name == "model.safetensors" {
                try fm.createSymbolicLink(at: copy.appendingPathComponent(name), withDestinationURL: from)
            } else {
                try fm.copyItem(at: from, to: copy.appendingPathComponent(name))
            }
        }
        return copy
    }

    @Test("a folder is described for the registry from its files alone: no tokenizer, no encoder built")
    func describesWithoutBuilding() throws {
        let copy = try Self.copyOfMiniLM()
        let model = try EmbeddingModel(folder: copy.path)
        // The engine needs the vocabulary; the description does not.
        for name in ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
            try? FileManager.default.removeItem(at: copy.appendingPathComponent(name))
        }
        #expect(throws: (any Error).self) { try EmbeddingModel(folder: copy.path) }
        let described = try ModelFolder(path: copy.path)
        #expect(described.weightsHash == model.weightsHash)
        #expect(described.dimension == model.dimension && described.architecture == model.architecture)
        #expect(described.pooling == model.pooling && described.normalize == model.normalize)
        #expect(described.maxSequenceLength == model.maxSequenceLength && described.name == model.name)
        #expect(described.prompts.mapValues(\.template) == model.prompts.mapValues(\.template))
    }

    @Test("the shipped models load with their settings and weights hash")
    func loadsModels() throws {
        let minilm = try EmbeddingModel(folder: TestResources.model("all-MiniLM-L6-v2"))
        #expect(minilm.name == "all-MiniLM-L6-v2")
        #expect(minilm.architecture == .bert)
        #expect(minilm.dimension == 384)
        #expect(minilm.maxSequenceLength == 256)
        #expect(minilm.pooling == Pooling(strategy: .mean))
        #expect(minilm.normalize)
        #expect(minilm.weightsHash == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db")

        let successor = try EmbeddingModel(folder: TestResources.model("all-MiniLM-L6-v2-scifact-ft"))
        #expect(successor.weightsHash == "4d37ae9e624f99cb4fc274d5a27aa0db913fc6979a1724c2993cd058bca8f578")
    }

    @Test("a missing model folder is named")
    func missingFolder() {
        #expect(throws: EmbeddingError.modelFolderMissing(path: "/nonexistent/model")) {
            try EmbeddingModel(folder: "/nonexistent/model")
        }
    }

    @Test("an unknown architecture is named")
    func unknownArchitecture() throws {
        let folder = try Self.copyOfMiniLM()
        let config = folder.appendingPathComponent("config.json")
        let text = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(
            of: "\"bert\"",
            with: "\"gpt2\""
        )
        try text.write(to: config, atomically: true, encoding: .utf8)
        #expect(throws: EmbeddingError.unknownArchitecture(path: config.path, modelType: "gpt2")) {
            try EmbeddingModel(folder: folder.path)
        }
    }

    @Test("an unreadable tokenizer is named")
    func unreadableTokenizer() throws {
        let folder = try Self.copyOfMiniLM()
        let tokenizer = folder.appendingPathComponent("tokenizer.json")
        try Data("{\"model\": {\"type\": \"WordPiece\", \"vocab\": ".utf8).write(to: tokenizer)
        #expect(throws: EmbeddingError.unreadableTokenizer(path: tokenizer.path, reason: "not valid JSON")) {
            try EmbeddingModel(folder: folder.path)
        }
        try FileManager.default.removeItem(at: tokenizer)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("vocab.txt"))
        let error = #expect(throws: EmbeddingError.self) { try EmbeddingModel(folder: folder.path) }
        #expect(error?.description.contains("neither tokenizer.json nor vocab.txt") == true)
    }

    @Test("without tokenizer.json, vocab.txt gives the same token ids")
    func vocabularyFallback() throws {
        let folder = try Self.copyOfMiniLM()
        try FileManager.default.removeItem(at: folder.appendingPathComponent("tokenizer.json"))
        let fallback = try WordPieceTokenizer(folder: folder)
        let full = try WordPieceTokenizer(folder: URL(fileURLWithPath: TestResources.model("all-MiniLM-L6-v2")))
        for text in ["Hello, World! naïve café", "the quick brown fox — jumps", "unbelievably tokenisation"] {
            #expect(fallback.encode(text, maxLength: 256) == full.encode(text, maxLength: 256))
        }
    }

    @Test("truncated weights in a model folder are named")
    func truncatedWeights() throws {
        let folder = try Self.copyOfMiniLM()
        let weights = folder.appendingPathComponent("model.safetensors")
        let original = try Data(contentsOf: weights, options: .alwaysMapped)
        try FileManager.default.removeItem(at: weights)
        try original.prefix(1_000_000).write(to: weights)
        let error = #expect(throws: EmbeddingError.self) { try EmbeddingModel(folder: folder.path) }
        guard case .truncatedSafeTensors(let path, _, let actual) = error else {
            Issue.record("expected truncatedSafeTensors, got \(String(describing: error))")
            return
        }
        #expect(path == weights.path)
        #expect(actual == 1_000_000)
    }

    @Test("a weights file without a tensor the encoder needs is named")
    func missingTensor() throws {
        let folder = try Self.copyOfMiniLM()
        let config = folder.appendingPathComponent("config.json")
        let text = try String(contentsOf: config, encoding: .utf8)
            .replacingOccurrences(of: "\"num_hidden_layers\": 6", with: "\"num_hidden_layers\": 7")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let error = #expect(throws: EmbeddingError.self) { try EmbeddingModel(folder: folder.path) }
        #expect(error?.description.contains("encoder.layer.6.") == true)
    }
}
