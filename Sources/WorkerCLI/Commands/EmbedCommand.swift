import ArgumentParser
import Embedding
import Foundation
import Telemetry
import Worker

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed a JSONL file (BEIR corpus or queries format) into a JSONL file of vectors.",
        discussion: """
            Each input line is {"_id" or "id", "text", optional "title"}; documents are embedded as \
            title + " " + text. Each output line is {"id": …, "embedding": […]} (plus "input_ids" with \
            --tokens), in input order. The whole input is checked before anything is embedded.
            """
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "The JSONL file to embed.")
    var input: String

    @Option(name: .long, help: "Where to write the vectors (\"-\" for standard output).")
    var output: String

    @Flag(name: .long, help: "Also write each text's token ids.")
    var tokens = false

    @Option(
        name: .long,
        help:
            "A prompt: a name the model defines (\"query\", \"document\"; none if the model has none) or literal text, e.g. \"query: \" or \"Instruct: {task}\\nQuery: {text}\"."
    )
    var prompt: String?

    @Option(name: .long, help: "Fills {task} in the prompt.")
    var task: String?

    @Flag(name: .long, help: "Skip invalid lines (reported on standard error) instead of stopping.")
    var skipInvalid = false

    func run() throws {
        let logger = options.makeLogger("driftless.worker.embed")
        try exitOnError(logger) {
            let model = try options.loadModel(logger: logger)
            var job = EmbedFileJob(input: input, output: output, threads: options.threads)
            job.prompt = prompt.map(model.prompt(named:)) ?? model.defaultPrompt
            job.task = task
            job.includeTokens = tokens
            job.skipInvalid = skipInvalid
            job.tokenBudget = options.tokenBudget
            let progress = ProgressLine("embedding")
            let summary = try job.run(model: model, logger: logger) { progress.update($0, of: $1) }
            logger.info(
                "embedded",
                metadata: [
                    "documents": "\(summary.embedded)", "skipped": "\(summary.skipped)", "tokens": "\(summary.tokens)",
                    "seconds": "\(String(format: "%.2f", summary.seconds))",
                    "docs_per_s": "\(String(format: "%.1f", Double(summary.embedded) / summary.seconds))",
                    "output": "\(output)",
                ]
            )
        }
    }
}
