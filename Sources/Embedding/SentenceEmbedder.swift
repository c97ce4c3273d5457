import Foundation
import LinearAlgebra

/// Runs an ``EmbeddingModel``: tokenises, batches by length under a token
/// budget, encodes on a fixed number of threads, pools and normalises, and
/// returns vectors in input order.
///
/// With several batches to do, each thread encodes whole batches on its own
/// (no synchronisation between layers, activations local to the thread); a
/// single batch (a few queries) is split across the threads instead, row by
/// row and head by head, so that it finishes sooner.
///
/// Holds the activation buffers, so it is not thread-safe: use one per thread
/// of control (the model itself is shared freely). Calls block; keep them off
/// Swift's cooperative thread pool.
public final class SentenceEmbedder {
    public let model: EmbeddingModel
    public let pool: ComputePool
    public let batcher: TokenBudgetBatcher
    /// One per thread.
    private let workspaces: [EncoderWorkspace]

    /// Tokens per batch when the caller does not say: small enough that a
    /// batch's activations stay in the last-level cache (measured fastest on
    /// SciFact with all-MiniLM-L6-v2; see BENCHMARKS.md).
    public static let defaultTokenBudget = 2048

    /// - Parameters:
    ///   - threads: compute threads for this embedder (OpenBLAS runs single-threaded inside them).
    ///   - tokenBudget: most tokens encoded in one batch; bounds memory (per thread).
    public init(model: EmbeddingModel, threads: Int, tokenBudget: Int = SentenceEmbedder.defaultTokenBudget) {
        self.model = model
        pool = ComputePool(threads: max(1, threads))
        batcher = TokenBudgetBatcher(tokenBudget: max(tokenBudget, model.maxSequenceLength))
        workspaces = (0..<pool.threads).map { _ in EncoderWorkspace() }
        BLAS.setThreads(1)
    }

    /// One vector of ``EmbeddingModel/dimension`` floats per text, in input order.
    public func embed(
        _ texts: [String],
        prompt: PromptTemplate? = nil,
        task: String? = nil
    ) throws(EmbeddingError) -> [[Float]] {
        try embed(
            tokens: tokenize(texts, prompt: prompt, task: task),
            promptTokens: model.promptTokenCount(prompt, task: task)
        )
    }

    /// ``EmbeddingModel/tokenize(_:prompt:task:)`` for many texts, on the pool's threads.
    public func tokenize(_ texts: [String], prompt: PromptTemplate? = nil, task: String? = nil) -> [[Int32]] {
        var tokens = [[Int32]](repeating: [], count: texts.count)
        tokens.withUnsafeMutableBufferPointer { tokens in
            pool.forEachChunk(texts.count, minimumChunk: 32) { range in
                for i in range { tokens[i] = model.tokenize(texts[i], prompt: prompt, task: task) }
            }
        }
        return tokens
    }

    /// Embeds token id sequences made by ``EmbeddingModel/tokenize(_:prompt:task:)``.
    /// `promptTokens` leading tokens of each are left out of pooling. Each
    /// sequence must hold 1 to the model's position count of ids, each below
    /// its vocabulary size.
    public func embed(tokens: [[Int32]], promptTokens: Int = 0) throws(EmbeddingError) -> [[Float]] {
        let longest = model.configuration.maxSequenceLength
        let vocabularySize = model.configuration.vocabularySize
        for (index, sequence) in tokens.enumerated() {
            guard (1...longest).contains(sequence.count) else {
                throw .invalidTokens(index: index, reason: "has \(sequence.count) ids; 1 to \(longest) fit the model")
            }
            if let bad = sequence.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
                throw .invalidTokens(
                    index: index,
                    reason: "holds id \(bad), outside the vocabulary of \(vocabularySize)"
                )
            }
        }
        var results = [[Float]](repeating: [], count: tokens.count)
        let batches = batcher.batches(lengths: tokens.map(\.count))
        let single = ComputePool(threads: 1)
        results.withUnsafeMutableBufferPointer { results in
            if batches.count >= pool.threads && pool.threads > 1 {
                // Each batch writes only its own indices of `results`.
                pool.forEach(batches.count) { b, worker in
                    encode(
                        batches[b],
                        tokens: tokens,
                        promptTokens: promptTokens,
                        workspace: workspaces[worker],
                        pool: single,
                        into: results
                    )
                }
            } else {
                for batch in batches {
                    encode(
                        batch,
                        tokens: tokens,
                        promptTokens: promptTokens,
                        workspace: workspaces[0],
                        pool: pool,
                        into: results
                    )
                }
            }
        }
        return results
    }

    private func encode(
        _ indices: [Int],
        tokens: [[Int32]],
        promptTokens: Int,
        workspace: EncoderWorkspace,
        pool: ComputePool,
        into results: UnsafeMutableBufferPointer<[Float]>
    ) {
        let width = model.configuration.hiddenSize
        // A Matryoshka cut keeps the first `kept` floats, re-normalised.
        let kept = model.dimension
        let batch = PackedBatch(indices.map { tokens[$0] })
        let hidden = model.encoder.forward(batch, workspace: workspace, pool: pool)
        for (position, index) in indices.enumerated() {
            let start = batch.starts[position]
            let length = batch.lengths[position]
            var vector = [Float](unsafeUninitializedCapacity: width) { out, initialized in
                model.pooling.pool(
                    hidden,
                    width: width,
                    rows: start..<(start + length),
                    masked: promptTokens,
                    into: out.baseAddress!
                )
                initialized = width
            }
            if kept < width { vector.removeSubrange(kept...) }
            if model.normalize || kept < width {
                vector.withUnsafeMutableBufferPointer { L2Normalizer.normalize($0.baseAddress!, count: kept) }
            }
            results[index] = vector
        }
    }

    /// FLOPs of encoding sequences of these lengths (for GFLOP/s reports).
    public func flops(lengths: [Int]) -> Double {
        model.encoder.flops(lengths: lengths)
    }
}
