import Corpus
import Embedding
import Foundation
import Logging
import Telemetry

/// `worker embed`: embeds every record of a JSONL file and writes one line per
/// record, in input order.
public struct EmbedFileJob: Sendable {
    public var input: String
    public var output: String
    public var prompt: PromptTemplate?
    public var task: String?
    public var includeTokens = false
    public var skipInvalid = false
    public var threads: Int
    public var tokenBudget = SentenceEmbedder.defaultTokenBudget
    /// Records embedded per round: bounds the memory held for a large file and
    /// sets how often progress is reported (about every half minute with
    /// all-MiniLM-L6-v2 on 2 cores; a thread idles at most one batch per round).
    public var chunkSize = 512

    public init(input: String, output: String, threads: Int) {
        self.input = input
        self.output = output
        self.threads = threads
    }

    public struct Summary: Sendable {
        public var embedded = 0
        public var skipped = 0
        public var tokens = 0
        public var seconds = 0.0
    }

    /// Validates the input, then embeds it. `progress(done, total)` is called after each chunk.
    public func run(
        model: EmbeddingModel,
        logger: Logger,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> Summary {
        guard !EmbeddingLineWriter.sameFile(input, output) else { throw WorkerError.outputIsInput(path: output) }
        let reader = try CorpusReader(path: input)
        let report = try reader.validate()
        if report.errorCount > 0 {
            guard skipInvalid else {
                throw WorkerError.invalidInput(path: input, errors: report.errors, total: report.errorCount)
            }
            for error in report.errors { logger.warning("skipped: \(error)") }
            if report.errorCount > report.errors.count {
                logger.warning("skipped \(report.errorCount - report.errors.count) more invalid lines")
            }
        }
        guard report.records > 0 else { throw WorkerError.emptyInput(path: input) }

        let embedder = SentenceEmbedder(model: model, threads: threads, tokenBudget: tokenBudget)
        let writer = try EmbeddingLineWriter(path: output, includeTokens: includeTokens)
        var finished = false
        defer { if !finished { writer.discard() } }
        var summary = Summary(skipped: report.errorCount)
        let clock = ContinuousClock()
        let start = clock.now
        let promptTokens = model.promptTokenCount(prompt, task: task)
        progress(0, report.records)
        try reader.forEachBatch(of: chunkSize, skipping: report.invalidLines) { records in
            let tokens = embedder.tokenize(records.map(\.embeddingText), prompt: prompt, task: task)
            let vectors = try embedder.embed(tokens: tokens, promptTokens: promptTokens)
            for (record, (vector, ids)) in zip(records, zip(vectors, tokens)) {
                try writer.write(id: record.id, embedding: vector, tokens: ids)
            }
            summary.embedded += records.count
            summary.tokens += tokens.reduce(0) { $0 + $1.count }
            progress(summary.embedded, report.records)
        }
        try writer.finish()
        finished = true
        summary.seconds = (clock.now - start).seconds
        return summary
    }
}
