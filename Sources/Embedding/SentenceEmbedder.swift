import Foundation
import LinearAlgebra

/// Runs an ``EmbeddingModel``: tokenises, batches by length under a token
/// budget, encodes on a fixed number of threads, pools and normalises, and
/// returns vectors in input order.
///
/// Holds the activation buffers, so it is not thread-safe: use one per thread
/// of control (the model itself is shared freely). Calls block; keep them off
/// Swift's cooperative thread pool.
public final class SentenceEmbedder {
    public let model: EmbeddingModel
    public let pool: ComputePool
    public let batcher: TokenBudgetBatcher
    private let workspace = EncoderWorkspace()

    /// Tokens per batch when the caller does not say: small enough that a
    /// batch's activations stay in the last-level cache (measured fastest on
    /// SciFact with all-MiniLM-L6-v2; see BENCHMARKS.md).
    public static let defaultTokenBudget = 2048

    /// - Parameters:
    ///   - threads: compute threads for this embedder (OpenBLAS runs single-threaded inside them).
    ///   - tokenBudget: most tokens encoded in one batch; bounds memory.
    public init(model: EmbeddingModel, threads: Int, tokenBudget: Int = SentenceEmbedder.defaultTokenBudget) {
        self.model = model
        pool = ComputePool(threads: max(1, threads))
        batcher = TokenBudgetBatcher(tokenBudget: max(tokenBudget, model.maxSequenceLength))
        BLAS.setThreads(1)
    }

    /// One vector of ``EmbeddingModel/dimension`` floats per text, in input order.
    public func embed(_ texts: [String], prompt: PromptTemplate? = nil, task: String? = nil) -> [[Float]] {
        let tokens = texts.map { model.tokenize($0, prompt: prompt, task: task) }
        return embed(tokens: tokens, promptTokens: model.promptTokenCount(prompt, task: task))
    }

    /// Embeds token id sequences made by ``EmbeddingModel/tokenize(_:prompt:task:)``.
    /// `promptTokens` leading tokens of each are left out of pooling.
    public func embed(tokens: [[Int32]], promptTokens: Int = 0) -> [[Float]] {
        let width = model.dimension
        var results = [[Float]](repeating: [], count: tokens.count)
        for batchIndices in batcher.batches(lengths: tokens.map(\.count)) {
            let batch = PackedBatch(batchIndices.map { tokens[$0] })
            let hidden = model.encoder.forward(batch, workspace: workspace, pool: pool)
            for (position, index) in batchIndices.enumerated() {
                let start = batch.starts[position]
                let length = batch.lengths[position]
                // Like the reference, pooling keeps at least one token.
                let skip = min(promptTokens, length - 1)
                results[index] = [Float](unsafeUninitializedCapacity: width) { out, initialized in
                    model.pooling.pool(hidden, width: width, rows: (start + skip)..<(start + length), into: out.baseAddress!)
                    if model.normalize { L2Normalizer.normalize(out.baseAddress!, count: width) }
                    initialized = width
                }
            }
        }
        return results
    }

    /// FLOPs of encoding sequences of these lengths (for GFLOP/s reports).
    public func flops(lengths: [Int]) -> Double {
        TransformerEncoder.flops(lengths: lengths, configuration: model.configuration)
    }
}
