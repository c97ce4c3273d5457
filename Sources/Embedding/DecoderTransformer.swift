import LinearAlgebra
import LowPrecision

/// A decoder-only transformer (Qwen3's architecture) run as an embedder: token ids in, one
/// hidden vector per token out (after the final RMSNorm); pooling (last token, for these
/// models) takes it from there.
///
/// Runs packed, unpadded batches (``PackedBatch``) as the encoders do: every sequence starts
/// at position 0 and attends only to itself, so a sequence's vector does not depend on its
/// batch (the reference's left padding gives the same vectors, since rotary attention depends
/// only on distances). Weights in F32, F16 or BF16 are widened to `Float` at load.
struct DecoderTransformer: SequenceEncoder {
    let configuration: TransformerConfiguration
    /// `vocabularySize × hiddenSize`.
    let words: [Float]
    let layers: [DecoderLayer]
    let finalNorm: RMSNormalization
    let rotary: RotaryEmbedding

    init(weights: ModelWeights, configuration c: TransformerConfiguration, precision: Precision = .fp32) throws {
        guard let kind = c.architecture.decoder else {
            throw EmbeddingError.invalidConfiguration(
                path: weights.path,
                setting: "model_type",
                reason: "is \(c.architecture.rawValue), an encoder, not a decoder"
            )
        }
        configuration = c
        let prefix = ["", "model."].first { weights.shape($0 + "embed_tokens.weight") != nil }
        guard let prefix else { throw EmbeddingError.tensorMissing(path: weights.path, tensor: "embed_tokens.weight") }
        let h = c.hiddenSize
        let d = c.headSize
        let eps = c.rmsNormEpsilon
        let queryWidth = c.heads * d
        let keyValueWidth = c.keyValueHeads * d
        words = try weights.floats(prefix + "embed_tokens.weight", shape: [c.vocabularySize, h])
        layers = try (0..<c.layers).map { i in
            let p = "\(prefix)layers.\(i)."
            func linear(_ name: String, _ inputs: Int, _ outputs: Int, bias: Bool = false) throws -> Linear {
                try Linear(weights, p + name, inputs: inputs, outputs: outputs, bias: bias)
            }
            let qkNorms = kind == .qwen3
            return DecoderLayer(
                inputNorm: try RMSNormalization(weights, p + "input_layernorm.weight", size: h, epsilon: eps),
                queryKeyValue: try Linear(stacking: [
                    try linear("self_attn.q_proj", h, queryWidth, bias: c.attentionBias),
                    try linear("self_attn.k_proj", h, keyValueWidth, bias: c.attentionBias),
                    try linear("self_attn.v_proj", h, keyValueWidth, bias: c.attentionBias),
                ]).lowered(to: precision),
                queryNorm: qkNorms
                    ? try RMSNormalization(weights, p + "self_attn.q_norm.weight", size: d, epsilon: eps) : nil,
                keyNorm: qkNorms
                    ? try RMSNormalization(weights, p + "self_attn.k_norm.weight", size: d, epsilon: eps) : nil,
                attentionOutput: try linear("self_attn.o_proj", queryWidth, h).lowered(to: precision),
                postAttentionNorm: try RMSNormalization(
                    weights,
                    p + "post_attention_layernorm.weight",
                    size: h,
                    epsilon: eps
                ),
                gateUp: try Linear(stacking: [
                    try linear("mlp.gate_proj", h, c.intermediateSize),
                    try linear("mlp.up_proj", h, c.intermediateSize),
                ]).lowered(to: precision),
                down: try linear("mlp.down_proj", c.intermediateSize, h).lowered(to: precision),
                heads: c.heads,
                keyValueHeads: c.keyValueHeads,
                headSize: d
            )
        }
        finalNorm = try RMSNormalization(weights, prefix + "norm.weight", size: h, epsilon: eps)
        rotary = RotaryEmbedding(headSize: d, theta: c.ropeTheta, positions: c.maxSequenceLength)
    }

    func forward(_ batch: PackedBatch, workspace: EncoderWorkspace, pool: ComputePool) -> UnsafeMutablePointer<Float> {
        let width = configuration.hiddenSize
        let rows = batch.tokenCount
        let hidden = workspace.hidden.reserve(rows * width)
        words.withUnsafeBufferPointer { words in
            pool.forEachChunk(rows, minimumChunk: 64) { chunk in
                for r in chunk {
                    (hidden + r * width).update(from: words.baseAddress! + Int(batch.ids[r]) * width, count: width)
                }
            }
        }
        let positions = batch.positions
        for layer in layers {
            layer.forward(batch, positions: positions, rotary: rotary, workspace: workspace, pool: pool)
        }
        pool.forEachChunk(rows, minimumChunk: 16) { chunk in
            for r in chunk { finalNorm.apply(hidden + r * width, into: hidden + r * width) }
        }
        return hidden
    }

    func flops(lengths: [Int]) -> Double {
        let c = configuration
        let h = Double(c.hiddenSize)
        let q = Double(c.heads * c.headSize)
        let kv = Double(c.keyValueHeads * c.headSize)
        let perToken = 2 * (h * (q + 2 * kv) + q * h + 3 * h * Double(c.intermediateSize))
        let tokens = Double(lengths.reduce(0, +))
        // Scores and the weighted sum, over the full square (the causal half is computed and masked).
        let attention = lengths.reduce(0.0) { $0 + 2 * 2 * Double($1 * $1) * q }
        return Double(c.layers) * (tokens * perToken + attention)
    }
}
