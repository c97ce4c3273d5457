import LinearAlgebra

/// One transformer encoder layer (post-norm, as BERT and MPNet):
/// `h = LN(h + Attention(h))`, then `h = LN(h + W₂ GELU(W₁ h))`.
struct EncoderLayer: Sendable {
    /// Query, key and value stacked: one product gives all three.
    let queryKeyValue: Linear
    let attentionOutput: Linear
    let attentionNorm: LayerNormalization
    let intermediate: Linear
    let output: Linear
    let outputNorm: LayerNormalization
    let heads: Int

    var hiddenSize: Int { attentionOutput.outputs }
    var headSize: Int { hiddenSize / heads }

    /// Runs the layer in place on `workspace.hidden` (`batch.tokenCount × hiddenSize`).
    func forward(
        _ batch: PackedBatch,
        workspace: EncoderWorkspace,
        pool: ComputePool,
        bias: RelativePositionBias?
    ) {
        let rows = batch.tokenCount
        let width = hiddenSize
        let hidden = workspace.hidden.reserve(rows * width)
        let qkv = workspace.qkv.reserve(rows * 3 * width)
        let context = workspace.context.reserve(rows * width)
        let projected = workspace.projected.reserve(rows * width)

        queryKeyValue.forward(hidden, rows: rows, into: qkv, pool: pool)
        attention(batch, qkv: qkv, into: context, workspace: workspace, pool: pool, bias: bias)
        attentionOutput.forward(context, rows: rows, into: projected, pool: pool)
        attentionNorm.forward(hidden, adding: projected, rows: rows, pool: pool)

        let inner = workspace.intermediate.reserve(rows * intermediate.outputs)
        intermediate.forward(hidden, rows: rows, into: inner, pool: pool)
        let innerWidth = intermediate.outputs
        pool.forEachChunk(rows, minimumChunk: 16) { chunk in
            Kernels.gelu(inner + chunk.lowerBound * innerWidth, count: chunk.count * innerWidth)
        }
        output.forward(inner, rows: rows, into: projected, pool: pool)
        outputNorm.forward(hidden, adding: projected, rows: rows, pool: pool)
    }

    /// Scaled dot-product attention per (sequence, head), reading Q, K and V
    /// in place from the stacked `qkv` rows and writing each head's output into
    /// its columns of `context`.
    private func attention(
        _ batch: PackedBatch,
        qkv: UnsafeMutablePointer<Float>,
        into context: UnsafeMutablePointer<Float>,
        workspace: EncoderWorkspace,
        pool: ComputePool,
        bias: RelativePositionBias?
    ) {
        let width = hiddenSize
        let stride = 3 * width
        let d = headSize
        let scratch = workspace.reserveScores(threads: min(pool.threads, batch.count * heads), longest: batch.longest)
        let heads = self.heads
        // Longest sequences first, so the last items handed out are the cheap ones.
        let order = batch.lengths.indices.sorted { batch.lengths[$0] > batch.lengths[$1] }
        pool.forEach(batch.count * heads) { item, worker in
            let sequence = order[item / heads]
            let head = item % heads
            let length = batch.lengths[sequence]
            let start = batch.starts[sequence]
            let q = qkv + start * stride + head * d
            let scores = scratch[worker]
            if let bias { bias.fill(head: head, into: scores, length: length) }
            Attention.head(
                queries: q,
                keys: q + width,
                values: q + 2 * width,
                stride: stride,
                length: length,
                size: d,
                biased: bias != nil,
                scores: scores,
                into: context + start * width + head * d,
                outStride: width
            )
        }
    }
}
