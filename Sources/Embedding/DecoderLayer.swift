import LinearAlgebra

/// One decoder layer (pre-norm, as Llama and Qwen):
/// `h = h + Attention(RMSNorm(h))`, then `h = h + W_down(SiLU(W_gate x) ⊙ W_up x)` with
/// `x = RMSNorm(h)`. Attention is causal, with rotary positions and grouped-query heads
/// (several query heads share one key/value head); Qwen3 normalises each query and key
/// head (RMSNorm) before turning it.
struct DecoderLayer: Sendable {
    let inputNorm: RMSNormalization
    /// Query, key and value stacked: `heads·d + 2·keyValueHeads·d` outputs.
    let queryKeyValue: Linear
    let queryNorm: RMSNormalization?
    let keyNorm: RMSNormalization?
    let attentionOutput: Linear
    let postAttentionNorm: RMSNormalization
    /// Gate and up projections stacked: `2·intermediate` outputs.
    let gateUp: Linear
    let down: Linear
    let heads: Int
    let keyValueHeads: Int
    let headSize: Int

    var hiddenSize: Int { attentionOutput.outputs }
    var queryWidth: Int { heads * headSize }
    var keyValueWidth: Int { keyValueHeads * headSize }
    var intermediateSize: Int { down.inputs }

    /// Runs the layer in place on `workspace.hidden` (`batch.tokenCount × hiddenSize`).
    func forward(
        _ batch: PackedBatch,
        positions: [Int],
        rotary: RotaryEmbedding,
        workspace: EncoderWorkspace,
        pool: ComputePool
    ) {
        let rows = batch.tokenCount
        let width = hiddenSize
        let stride = queryWidth + 2 * keyValueWidth
        let hidden = workspace.hidden.reserve(rows * width)
        let normed = workspace.projected.reserve(rows * width)
        let qkv = workspace.qkv.reserve(rows * stride)
        let context = workspace.context.reserve(rows * queryWidth)

        pool.forEachChunk(rows, minimumChunk: 16) { chunk in
            for r in chunk { inputNorm.apply(hidden + r * width, into: normed + r * width) }
        }
        queryKeyValue.forward(normed, rows: rows, into: qkv, pool: pool)
        pool.forEachChunk(rows, minimumChunk: 8) { chunk in
            for r in chunk {
                let row = qkv + r * stride
                for h in 0..<heads {
                    let q = row + h * headSize
                    queryNorm?.apply(q, into: q)
                    rotary.apply(q, position: positions[r])
                }
                for g in 0..<keyValueHeads {
                    let k = row + queryWidth + g * headSize
                    keyNorm?.apply(k, into: k)
                    rotary.apply(k, position: positions[r])
                }
            }
        }
        attention(batch, qkv: qkv, into: context, workspace: workspace, pool: pool)
        let projected = normed
        attentionOutput.forward(context, rows: rows, into: projected, pool: pool)
        pool.forEachChunk(rows, minimumChunk: 16) { chunk in
            let offset = chunk.lowerBound * width
            Kernels.add(projected + offset, into: hidden + offset, count: chunk.count * width)
            for r in chunk { postAttentionNorm.apply(hidden + r * width, into: normed + r * width) }
        }

        let inner = intermediateSize
        let gates = workspace.intermediate.reserve(rows * 2 * inner)
        let gated = workspace.gated.reserve(rows * inner)
        gateUp.forward(normed, rows: rows, into: gates, pool: pool)
        pool.forEachChunk(rows, minimumChunk: 8) { chunk in
            for r in chunk {
                Kernels.swiGLU(
                    gates + r * 2 * inner,
                    up: gates + r * 2 * inner + inner,
                    into: gated + r * inner,
                    count: inner
                )
            }
        }
        down.forward(gated, rows: rows, into: projected, pool: pool)
        pool.forEachChunk(rows, minimumChunk: 16) { chunk in
            let offset = chunk.lowerBound * width
            Kernels.add(projected + offset, into: hidden + offset, count: chunk.count * width)
        }
    }

    /// Causal scaled dot-product attention per (sequence, query head); query head `h` reads
    /// key/value head `h / (heads / keyValueHeads)`. Writes each head's output into its
    /// columns of `context` (`rows × heads·d`).
    private func attention(
        _ batch: PackedBatch,
        qkv: UnsafeMutablePointer<Float>,
        into context: UnsafeMutablePointer<Float>,
        workspace: EncoderWorkspace,
        pool: ComputePool
    ) {
        let d = headSize
        let queryWidth = self.queryWidth
        let keyValueWidth = self.keyValueWidth
        let stride = queryWidth + 2 * keyValueWidth
        let heads = self.heads
        let group = heads / keyValueHeads
        let scratch = workspace.reserveScores(threads: min(pool.threads, batch.count * heads), longest: batch.longest)
        let order = batch.lengths.indices.sorted { batch.lengths[$0] > batch.lengths[$1] }
        pool.forEach(batch.count * heads) { item, worker in
            let sequence = order[item / heads]
            let head = item % heads
            let length = batch.lengths[sequence]
            let start = batch.starts[sequence]
            let q = qkv + start * stride + head * d
            let k = qkv + start * stride + queryWidth + (head / group) * d
            Attention.head(
                queries: q,
                keys: k,
                values: k + keyValueWidth,
                stride: stride,
                length: length,
                size: d,
                causal: true,
                scores: scratch[worker],
                into: context + start * queryWidth + head * d,
                outStride: queryWidth
            )
        }
    }
}
