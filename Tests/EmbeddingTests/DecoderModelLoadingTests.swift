import DriftlessTestSupport
import Embedding
import Foundation
import Testing

/// Decoder-only model folders that Driftless must refuse, each with a message naming the file
/// and setting at fault, and a sharded model that it must read as the single file.
@Suite("Decoder model loading")
struct DecoderModelLoadingTests {
    static let source = TestResources.fixture("tiny-qwen3-embedding")

    /// A writable copy of the fixture model (the weights linked, not copied).
    static func copy() throws -> URL {
        let copy = try TestResources.temporaryDirectory().appendingPathComponent("tiny-qwen3-embedding")
        let fm = FileManager.default
        try fm.createDirectory(at: copy, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: source.path) {
            let from = source.appendingPathComponent(name)
            let to = copy.appendingPathComponent(name)
            if name == "model.safetensors" {
                try fm.createSymbolicLink(at: to, withDestinationURL: from)
            } else {
                try fm.copyItem(at: from, to: to)
                try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: to.path)
                if name == "1_Pooling" {
                    try fm.setAttributes(
                        [.posixPermissions: 0o644],
                        ofItemAtPath: to.appendingPathComponent("config.json").path
                    )
                }
            }
        }
        return copy
    }

    /// Rewrites the JSON object in `file` of `folder`.
    static func edit(_ folder: URL, _ file: String, _ change: (inout [String: Any]) -> Void) throws {
        let url = folder.appendingPathComponent(file)
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    static func failure(_ folder: URL) -> String {
        do {
            _ = try EmbeddingModel(folder: folder.path)
            return "(loaded)"
        } catch {
            return "\(error)"
        }
    }

    @Test("a tokenizer of an unsupported model type is refused")
    func unsupportedTokenizerModel() throws {
        let folder = try Self.copy()
        try Self.edit(folder, "tokenizer.json") { root in
            var model = root["model"] as! [String: Any]
            model["type"] = "Unigram"
            root["model"] = model
        }
        let message = Self.failure(folder)
        #expect(
            message.contains("tokenizer.json") && message.contains("model type 'Unigram' is not supported"),
            "\(message)"
        )
    }

    @Test("an unsupported pre-tokenizer or split regex is refused")
    func unsupportedPreTokenizer() throws {
        let folder = try Self.copy()
        try Self.edit(folder, "tokenizer.json") { root in root["pre_tokenizer"] = ["type": "Whitespace"] }
        let message = Self.failure(folder)
        #expect(message.contains("pre-tokenizer Whitespace is not supported"), "\(message)")

        try Self.edit(folder, "tokenizer.json") { root in
            root["pre_tokenizer"] = [
                "type": "Sequence",
                "pretokenizers": [
                    ["type": "Split", "pattern": ["Regex": "\\s+"], "behavior": "Isolated", "invert": false],
                    ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false],
                ],
            ]
        }
        let regex = Self.failure(folder)
        #expect(regex.contains("regex \"\\\\s+\" is not supported"), "\(regex)")
    }

    @Test("heads that do not divide the hidden size, or key/value heads that do not divide the heads, are refused")
    func heads() throws {
        let folder = try Self.copy()
        try Self.edit(folder, "config.json") { config in
            config["head_dim"] = nil
            config["num_attention_heads"] = 3
            config["num_key_value_heads"] = 1
        }
        let message = Self.failure(folder)
        #expect(
            message.contains("config.json")
                && message.contains("'num_attention_heads' (3) must divide hidden_size (64)"),
            "\(message)"
        )
        try Self.edit(folder, "config.json") { config in
            config["head_dim"] = 16
            config["num_attention_heads"] = 4
            config["num_key_value_heads"] = 3
        }
        let groups = Self.failure(folder)
        #expect(groups.contains("'num_key_value_heads' (3) must divide num_attention_heads (4)"), "\(groups)")
    }

    @Test("a model sharded over two files gives the single file's vectors; a missing shard is named")
    func shards() throws {
        let folder = try Self.copy()
        let weights = try ModelWeights(folder: Self.source)
        let file = try SafeTensors(path: Self.source.appendingPathComponent("model.safetensors").path)
        let names = file.entries.keys.sorted()
        let halves = [Array(names.prefix(names.count / 2)), Array(names.dropFirst(names.count / 2))]
        var map: [String: String] = [:]
        for (i, half) in halves.enumerated() {
            let shard = "model-0000\(i + 1)-of-00002.safetensors"
            try SafeTensorsWriter.write(
                half.map { ($0, file.entries[$0]!.shape, try weights.floats($0)) },
                to: folder.appendingPathComponent(shard)
            )
            for name in half { map[name] = shard }
        }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
            .write(to: folder.appendingPathComponent("model.safetensors.index.json"))

        let texts = ["a sharded model", "gives the same vectors as the single file"]
        let single = try SentenceEmbedder(model: EmbeddingModel(folder: Self.source.path), threads: 1).embed(texts)
        let sharded = try EmbeddingModel(folder: folder.path)
        #expect(try SentenceEmbedder(model: sharded, threads: 1).embed(texts) == single)
        #expect(sharded.weightsHash != weights.sha256())

        try FileManager.default.removeItem(at: folder.appendingPathComponent("model-00002-of-00002.safetensors"))
        let message = Self.failure(folder)
        #expect(message.contains("model-00002-of-00002.safetensors") && message.contains("shard"), "\(message)")
    }
}

/// Writes F32 safetensors files (for tests that need a model laid out another way).
enum SafeTensorsWriter {
    static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], to url: URL) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for tensor in tensors {
            header[tensor.name] = [
                "dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + 4 * tensor.values.count],
            ]
            offset += 4 * tensor.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for tensor in tensors {
            tensor.values.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        try data.write(to: url)
    }
}
