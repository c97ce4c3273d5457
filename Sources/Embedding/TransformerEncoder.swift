import Foundation
import LinearAlgebra
import LowPrecision

/// A BERT or MPNet encoder: token ids in, one contextual vector per token out.
///
/// Runs packed, unpadded batches (``PackedBatch``); weights are immutable and
/// shared, the activations live in the caller's ``EncoderWorkspace``.
/// A network that turns a packed batch of token ids into one hidden vector per token.
protocol SequenceEncoder: Sendable {
    /// The `tokenCount × hiddenSize` hidden states of `batch`, valid until the workspace's next use.
    func forward(_ batch: PackedBatch, workspace: EncoderWorkspace, pool: ComputePool) -> UnsafeMutablePointer<Float>
    /// Multiply-adds ×2 of one forward pass over sequences of these lengths.
    func flops(lengths: [Int]) -> Double
}

struct TransformerEncoder: SequenceEncoder {
    let configuration: TransformerConfiguration
    let embeddings: TokenEmbeddings
    let layers: [EncoderLayer]
    let positionBias: RelativePositionBias?

    init(weights: ModelWeights, configuration c: TransformerConfiguration, precision: Precision = .fp32) throws {
        guard let kind = c.architecture.encoder else {
            throw EmbeddingError.invalidConfiguration(
                path: weights.path,
                setting: "model_type",
                reason: "is \(c.architecture.rawValue), a decoder, not an encoder"
            )
        }
        configuration = c
        let prefix = ["", "bert.", "mpnet.", "model."].first {
            weights.shape($0 + "embeddings.word_embeddings.weight") != nil
        }
        guard let prefix else {
            throw EmbeddingError.tensorMissing(path: weights.path, tensor: "embeddings.word_embeddings.weight")
        }
        embeddings = try TokenEmbeddings(weights, prefix: prefix, configuration: c, kind: kind)
        let h = c.hiddenSize
        let eps = c.layerNormEpsilon
        layers = try (0..<c.layers).map { i in
            let p = "\(prefix)encoder.layer.\(i)."
            let names: (q: String, k: String, v: String, o: String, norm: String) =
                switch kind {
                case .bert:
                    (
                        "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                        "attention.output.LayerNorm"
                    )
                case .mpnet:
                    (
                        "attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
                        "attention.LayerNorm"
                    )
                }
            return EncoderLayer(
                queryKeyValue: try Linear(stacking: [
                    try Linear(weights, p + names.q, inputs: h, outputs: h),
                    try Linear(weights, p + names.k, inputs: h, outputs: h),
                    try Linear(weights, p + names.v, inputs: h, outputs: h),
                ]).lowered(to: precision),
                attentionOutput: try Linear(weights, p + names.o, inputs: h, outputs: h).lowered(to: precision),
                attentionNorm: try LayerNormalization(weights, p + names.norm, size: h, epsilon: eps),
                intermediate: try Linear(weights, p + "intermediate.dense", inputs: h, outputs: c.intermediateSize)
                    .lowered(to: precision),
                output: try Linear(weights, p + "output.dense", inputs: c.intermediateSize, outputs: h)
                    .lowered(to: precision),
                outputNorm: try LayerNormalization(weights, p + "output.LayerNorm", size: h, epsilon: eps),
                heads: c.heads
            )
        }
        switch kind {
        case .bert:
            positionBias = nil
        case .mpnet:
            let weight = try weights.floats(
                prefix + "encoder.relative_attention_bias.weight",
                shape: [c.relativeAttentionBuckets, c.heads]
            )
            positionBias = RelativePositionBias(
                weight: weight,
                buckets: c.relativeAttentionBuckets,
                heads: c.heads,
                longest: c.maxSequenceLength
            )
        }
    }

    /// Encodes `batch` and returns its `tokenCount × hiddenSize` hidden states,
    /// which stay valid until the workspace's next use. Every id must be below
    /// the vocabulary size and every sequence within ``TransformerConfiguration/maxSequenceLength``:
    /// ``SentenceEmbedder/embed(tokens:promptTokens:)`` checks that once, before batching.
    func forward(_ batch: PackedBatch, workspace: EncoderWorkspace, pool: ComputePool) -> UnsafeMutablePointer<Float> {
        let hidden = workspace.hidden.reserve(batch.tokenCount * configuration.hiddenSize)
        embeddings.forward(batch, into: hidden, pool: pool)
        for layer in layers {
            layer.forward(batch, workspace: workspace, pool: pool, bias: positionBias)
        }
        return hidden
    }

    func flops(lengths: [Int]) -> Double { Self.flops(lengths: lengths, configuration: configuration) }

    /// Multiply-adds ×2 of one forward pass over sequences of these lengths.
    static func flops(lengths: [Int], configuration c: TransformerConfiguration) -> Double {
        let h = Double(c.hiddenSize)
        let i = Double(c.intermediateSize)
        let perToken = 2 * (4 * h * h + 2 * h * i)
        let tokens = Double(lengths.reduce(0, +))
        let attention = lengths.reduce(0.0) { $0 + 2 * 2 * Double($1 * $1) * h }
        return Double(c.layers) * (tokens * perToken + attention)
    }
}
