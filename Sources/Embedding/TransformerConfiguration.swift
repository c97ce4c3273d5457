import Foundation

/// The encoder's shape and hyper-parameters, from the model folder's `config.json`.
public struct TransformerConfiguration: Sendable, Equatable {
    public enum Architecture: String, Sendable {
        case bert, mpnet
    }

    public var architecture: Architecture
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var vocabularySize: Int
    public var typeVocabularySize: Int
    public var layerNormEpsilon: Float
    /// MPNet only: buckets of the relative position bias.
    public var relativeAttentionBuckets: Int
    /// MPNet numbers positions from `padTokenId + 1`.
    public var padTokenId: Int

    public var headSize: Int { hiddenSize / heads }

    /// Reads and checks `config.json`.
    public init(contentsOf url: URL) throws {
        let path = url.path
        let object = try JSONFile.object(at: url)
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            if let v = object[key] as? Int { return v }
            if let value { return value }
            throw EmbeddingError.invalidConfiguration(path: path, setting: key, reason: "is missing or not an integer")
        }
        let modelType = (object["model_type"] as? String) ?? "(none)"
        guard let architecture = Architecture(rawValue: modelType.lowercased()) else {
            throw EmbeddingError.unknownArchitecture(path: path, modelType: modelType)
        }
        let activation = (object["hidden_act"] as? String) ?? "gelu"
        guard activation == "gelu" else {
            throw EmbeddingError.invalidConfiguration(
                path: path,
                setting: "hidden_act",
                reason: "is '\(activation)'; only the exact (erf) 'gelu' is supported"
            )
        }
        self.architecture = architecture
        hiddenSize = try int("hidden_size")
        layers = try int("num_hidden_layers")
        heads = try int("num_attention_heads")
        intermediateSize = try int("intermediate_size")
        maxPositions = try int("max_position_embeddings")
        vocabularySize = try int("vocab_size")
        typeVocabularySize = try int("type_vocab_size", default: 0)
        relativeAttentionBuckets = try int("relative_attention_num_buckets", default: 32)
        padTokenId = try int("pad_token_id", default: architecture == .mpnet ? 1 : 0)
        layerNormEpsilon = Float((object["layer_norm_eps"] as? Double) ?? 1e-12)
        guard hiddenSize > 0, heads > 0, hiddenSize % heads == 0 else {
            throw EmbeddingError.invalidConfiguration(
                path: path,
                setting: "num_attention_heads",
                reason: "(\(heads)) must divide hidden_size (\(hiddenSize))"
            )
        }
        for (setting, value) in [
            ("num_hidden_layers", layers), ("intermediate_size", intermediateSize),
            ("max_position_embeddings", maxPositions), ("vocab_size", vocabularySize),
        ] where value <= 0 {
            throw EmbeddingError.invalidConfiguration(
                path: path,
                setting: setting,
                reason: "must be positive (is \(value))"
            )
        }
        if architecture == .mpnet {
            // Positions start at pad_token_id + 1; the relative bias needs two buckets a side at least.
            guard padTokenId >= 0, maxSequenceLength >= 2 else {
                throw EmbeddingError.invalidConfiguration(
                    path: path,
                    setting: "pad_token_id",
                    reason: "(\(padTokenId)) leaves no room in max_position_embeddings (\(maxPositions))"
                )
            }
            guard relativeAttentionBuckets >= 4, relativeAttentionBuckets % 2 == 0 else {
                throw EmbeddingError.invalidConfiguration(
                    path: path,
                    setting: "relative_attention_num_buckets",
                    reason: "must be even and at least 4 (is \(relativeAttentionBuckets))"
                )
            }
        }
    }

    /// The longest sequence, special tokens included, the position table allows.
    public var maxSequenceLength: Int {
        architecture == .mpnet ? maxPositions - padTokenId - 1 : maxPositions
    }
}
