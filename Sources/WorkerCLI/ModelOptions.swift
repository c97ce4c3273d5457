import ArgumentParser
import Embedding
import Foundation
import Logging
import Telemetry

/// Options every command that runs a model shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A sentence-transformers model folder (e.g. models/all-MiniLM-L6-v2).")
    var model: String

    @Option(name: .long, help: "Compute threads (default: the number of cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(
        name: .long,
        help: "Most tokens encoded in one batch; bounds memory (about 60 KiB per token for a 768-d model)."
    )
    var tokenBudget: Int = SentenceEmbedder.defaultTokenBudget

    @Option(
        name: .long,
        help:
            "Keep the first D dimensions of each vector, re-normalised (a Matryoshka cut; at most the model's dimension)."
    )
    var dimension: Int?

    @Option(
        name: .long,
        help: """
            Number format of the dense layers' products: fp32 (exact), bf16 (bfloat16 weights and inputs), \
            int8 (8-bit weights per channel, inputs quantized per row at run time).
            """
    )
    var precision: String = Precision.fp32.rawValue

    @Flag(name: .long, help: "Log more detail.")
    var verbose = false

    func validate() throws {
        guard (1...256).contains(threads) else {
            throw ValidationError("--threads must be between 1 and 256 (got \(threads))")
        }
        guard tokenBudget >= 1 else { throw ValidationError("--token-budget must be positive (got \(tokenBudget))") }
        do {
            _ = try Precision(setting: precision)
        } catch {
            throw ValidationError("--precision: \(error)")
        }
        if let dimension, dimension < 1 {
            throw ValidationError("--dimension must be positive (got \(dimension))")
        }
    }

    func makeLogger(_ label: String) -> Logger {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = verbose ? .debug : .info
        return logger
    }

    func loadModel(logger: Logger) throws -> EmbeddingModel {
        let clock = ContinuousClock()
        var model: EmbeddingModel?
        let precision = try Precision(setting: self.precision)
        let elapsed = try clock.measure { model = try EmbeddingModel(folder: self.model, precision: precision) }
        var loaded = model!
        if let dimension { loaded = try loaded.truncated(to: dimension) }
        logger.info(
            "model loaded",
            metadata: [
                "model": "\(loaded.name)", "architecture": "\(loaded.architecture)", "dimension": "\(loaded.dimension)",
                "max_seq_length": "\(loaded.maxSequenceLength)", "pooling": "\(loaded.pooling.strategy)",
                "normalize": "\(loaded.normalize)", "precision": "\(loaded.precision)",
                "kernel": "\(OneDNN.kernel(for: loaded.precision))",
                "weights_sha256": "\(loaded.weightsHash.prefix(16))…",
                "seconds": "\(elapsed)",
            ]
        )
        return loaded
    }
}

/// Turns a failure into a message on standard error and a script-friendly exit code.
func exitOnError<T>(_ logger: Logger, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        logger.error("\(error)")
        throw ExitCode(exitCode(for: error))
    }
}
