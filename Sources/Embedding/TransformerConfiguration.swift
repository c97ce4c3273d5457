import Foundation

/// The network's shape and hyper-parameters, from the model folder's `config.json`.
public struct TransformerConfiguration: Sendable, Equatable {
    /// BERT and MPNet are encoders; Qwen3 is a decoder-only LLM (causal attention, rotary
    /// positions, grouped-query attention, RMSNorm, SwiGLU).
    public enum Architecture: String, Sendable, CaseIterable {
        case bert, mpnet, qwen3

        /// The encoder this architecture is built as (nil for a decoder).
        public var encoder: EncoderKind? {
            switch self {
            case .bert: .bert
            case .mpnet: .mpnet
            case .qwen3: nil
            }
        }

        /// The decoder this architecture is built as (nil for an encoder).
        public var decoder: DecoderKind? {
            switch self {
            case .bert, .mpnet: nil
            case .qwen3: .qwen3
            }
        }

        public var isDecoder: Bool { decoder != nil }
    }

    /// Encoders (``TransformerEncoder``): bidirectional attention, learned or relative positions.
    public enum EncoderKind: Sendable { case bert, mpnet }

    /// Decoder-only LLMs (``DecoderTransformer``): causal attention, rotary positions.
    public enum DecoderKind: Sendable { case qwen3 }

    public var architecture: Architecture
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    /// Heads of keys and values (grouped-query attention); `heads` for the encoders.
    public var keyValueHeads: Int
    /// Width of one attention head: `head_dim`, else `hiddenSize / heads`.
    public var headSize: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var vocabularySize: Int
    public var typeVocabularySize: Int
    public var layerNormEpsilon: Float
    /// MPNet only: buckets of the relative position bias.
    public var relativeAttentionBuckets: Int
    /// MPNet numbers positions from `padTokenId + 1`.
    public var padTokenId: Int
    /// Decoders: the rotary embedding's base θ.
    public var ropeTheta: Double
    /// Decoders: RMSNorm's ε.
    public var rmsNormEpsilon: Float
    /// Decoders: whether q, k and v projections carry a bias (`attention_bias`).
    public var attentionBias: Bool

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
        let activation = (object["hidden_act"] as? String) ?? (architecture.isDecoder ? "silu" : "gelu")
        let expected = architecture.isDecoder ? "silu" : "gelu"
        guard activation == expected else {
            throw EmbeddingError.invalidConfiguration(
                path: path,
                setting: "hidden_act",
                reason: "is '\(activation)'; \(architecture.rawValue) models are supported with '\(expected)'"
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
        rmsNormEpsilon = Float((object["rms_norm_eps"] as? Double) ?? 1e-6)
        attentionBias = (object["attention_bias"] as? Bool) ?? false
        guard hiddenSize > 0, heads > 0 else {
            throw EmbeddingError.invalidConfiguration(
                path: path,
                setting: "num_attention_heads",
                reason: "and hidden_size must be positive"
            )
        }
        let explicitHeadSize = architecture.isDecoder ? object["head_dim"] as? Int : nil
        guard explicitHeadSize != nil || hiddenSize % heads == 0 else {
            throw EmbeddingError.invalidConfiguration(
                path: path,
                setting: "num_attention_heads",
                reason: "(\(heads)) must divide hidden_size (\(hiddenSize))"
            )
        }
        headSize = explicitHeadSize ?? hiddenSize / heads
        keyValueHeads = architecture.isDecoder ? try int("num_key_value_heads", default: heads) : heads
        guard keyValueHeads > 0, heads % keyValueHeads == 0 else {
            throw EmbeddingError.invalidConfiguration(
                path: path,
                setting: "num_key_value_heads",
                reason: "(\(keyValueHeads)) must divide num_attention_heads (\(heads))"
            )
        }
        ropeTheta = 10_000
        if architecture.isDecoder {
            guard headSize > 0, headSize % 2 == 0 else {
                throw EmbeddingError.invalidConfiguration(
                    path: path,
                    setting: "head_dim",
                    reason: "(\(headSize)) must be positive and even for rotary positions"
                )
            }
            // transformers 5 writes `rope_parameters`; older folders `rope_theta` and `rope_scaling`.
            let rope = (object["rope_parameters"] as? [String: Any]) ?? (object["rope_scaling"] as? [String: Any])
            if let type = (rope?["rope_type"] ?? rope?["type"]) as? String, type != "default" {
                throw EmbeddingError.invalidConfiguration(
                    path: path,
                    setting: "rope_type",
                    reason: "is '\(type)'; only the default rotary embedding is supported"
                )
            }
            if let theta = (rope?["rope_theta"] as? Double) ?? (object["rope_theta"] as? Double) { ropeTheta = theta }
            guard ropeTheta > 0 else {
                throw EmbeddingError.invalidConfiguration(path: path, setting: "rope_theta", reason: "must be positive")
            }
            if (object["use_sliding_window"] as? Bool) == true {
                throw EmbeddingError.invalidConfiguration(
                    path: path,
                    setting: "use_sliding_window",
                    reason: "is true; sliding-window attention is not supported"
                )
            }
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
