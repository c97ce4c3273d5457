import ArgumentParser
import Logging

@main
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "A Driftless embedding worker: runs sentence-embedding models on the CPU.",
        discussion: """
            Exit codes: 0 success, 1 a model or file could not be used, 65 the input \
            file has invalid lines, 64 bad command-line usage.
            """,
        version: DriftlessVersion.current,
        subcommands: [ServeCommand.self, EmbedCommand.self, BenchCommand.self, InfoCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
