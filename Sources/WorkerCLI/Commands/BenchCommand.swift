import ArgumentParser
import Embedding
import Foundation
import Telemetry
import Worker

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure embedding throughput on the first documents of a corpus.",
        discussion: """
            Prints docs/s, tokens/s, GFLOP/s and that figure as a fraction of this machine's own \
            OpenBLAS sgemm peak (measured in the same run, same threads), and names the OpenBLAS kernel. \
            OpenBLAS honours OPENBLAS_CORETYPE: unset it for this command to let it pick the best kernel.
            """
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "A JSONL corpus (BEIR format).")
    var input: String

    @Option(name: .long, help: "How many documents to embed.")
    var limit: Int = 2000

    @Option(name: .long, help: "Timed runs; the best is reported.")
    var repeats: Int = 1

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1 (got \(limit))") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1 (got \(repeats))") }
    }

    func run() throws {
        let logger = options.makeLogger("driftless.worker.bench")
        try exitOnError(logger) {
            let model = try options.loadModel(logger: logger)
            var bench = EmbeddingBenchmark(input: input, limit: limit, threads: options.threads)
            bench.tokenBudget = options.tokenBudget
            bench.repeats = repeats
            let report = try bench.run(model: model)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(
                    """
                    model            \(report.model) (max_seq_length \(report.maxSequenceLength))
                    precision        \(report.precision): \(report.precisionKernel)
                    documents        \(report.documents) (\(report.tokens) tokens)
                    threads          \(report.threads), token budget \(report.tokenBudget)
                    time             \(String(format: "%.2f", report.seconds)) s
                    docs/s           \(String(format: "%.1f", report.documentsPerSecond))
                    tokens/s         \(String(format: "%.0f", report.tokensPerSecond))
                    GFLOP/s          \(String(format: "%.1f", report.gflopsPerSecond)) (\(String(format: "%.1f", report.gflop)) GFLOP)
                    sgemm peak       \(String(format: "%.1f", report.sgemmPeakGflopsPerSecond)) GFLOP/s → \(String(format: "%.0f", 100 * report.fractionOfSgemmPeak))% of peak
                    OpenBLAS kernel  \(report.openblasCore) (OPENBLAS_CORETYPE=\(report.openblasCoretypeVariable.isEmpty ? "unset" : report.openblasCoretypeVariable))
                    OpenBLAS build   \(report.openblasConfiguration)
                    few-row kernel   \(report.skinnyKernel) (products of fewer than 48 rows)
                    """
                )
            }
        }
    }
}
