import Corpus
import Embedding
import Foundation
import LinearAlgebra
import Telemetry

/// `worker bench`: embedding throughput on the first documents of a corpus,
/// set against this machine's own `sgemm` peak measured in the same run.
public struct EmbeddingBenchmark: Sendable {
    public var input: String
    public var limit: Int
    public var threads: Int
    public var tokenBudget = SentenceEmbedder.defaultTokenBudget
    public var repeats = 1

    public init(input: String, limit: Int, threads: Int) {
        self.input = input
        self.limit = limit
        self.threads = threads
    }

    public struct Report: Codable, Sendable {
        public var model: String
        public var weightsHash: String
        public var documents: Int
        public var tokens: Int
        public var maxSequenceLength: Int
        public var threads: Int
        public var tokenBudget: Int
        public var seconds: Double
        public var documentsPerSecond: Double
        public var tokensPerSecond: Double
        public var gflop: Double
        public var gflopsPerSecond: Double
        public var sgemmPeakGflopsPerSecond: Double
        public var fractionOfSgemmPeak: Double
        public var openblasCore: String
        /// The kernel of products with fewer than 48 rows (short batches: queries).
        public var skinnyKernel: String
        /// The number format of the dense layers' products, and the kernel that ran them.
        public var precision: String
        public var precisionKernel: String
        public var openblasConfiguration: String
        /// `OPENBLAS_CORETYPE` as this process saw it ("" when unset).
        public var openblasCoretypeVariable: String
    }

    /// Embeds the first `limit` records (tokenisation included, as the reference's
    /// `encode` does) after a short warm-up, best of `repeats` runs.
    public func run(model: EmbeddingModel) throws -> Report {
        let records = try CorpusReader(path: input).records(limit: limit)
        guard !records.isEmpty else { throw WorkerError.emptyInput(path: input) }
        let texts = records.map(\.embeddingText)
        let embedder = SentenceEmbedder(model: model, threads: threads, tokenBudget: tokenBudget)
        _ = try embedder.embed(Array(texts.prefix(32)))

        let clock = ContinuousClock()
        var best = Duration.seconds(1_000_000)
        for _ in 0..<max(1, repeats) {
            let start = clock.now
            _ = try embedder.embed(texts)
            best = min(best, clock.now - start)
        }
        let seconds = best.seconds
        let lengths = texts.map { model.tokenize($0).count }
        let tokens = lengths.reduce(0, +)
        let gflop = embedder.flops(lengths: lengths) / 1e9
        let peak = SgemmPeak.measure(threads: threads)
        return Report(
            model: model.name,
            weightsHash: model.weightsHash,
            documents: texts.count,
            tokens: tokens,
            maxSequenceLength: model.maxSequenceLength,
            threads: threads,
            tokenBudget: tokenBudget,
            seconds: seconds,
            documentsPerSecond: Double(texts.count) / seconds,
            tokensPerSecond: Double(tokens) / seconds,
            gflop: gflop,
            gflopsPerSecond: gflop / seconds,
            sgemmPeakGflopsPerSecond: peak,
            fractionOfSgemmPeak: gflop / seconds / peak,
            openblasCore: BLAS.coreName,
            skinnyKernel: SkinnyGemm.kernel.rawValue,
            precision: model.precision.rawValue,
            precisionKernel: OneDNN.kernel(for: model.precision),
            openblasConfiguration: BLAS.configuration,
            openblasCoretypeVariable: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? ""
        )
    }
}
