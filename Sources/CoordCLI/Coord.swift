import ArgumentParser

@main
struct Coord: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coord",
        abstract:
            "The Driftless coordinator: index JSONL corpora into PostgreSQL with a fleet of embedding workers, search and evaluate the indexes, and upgrade their models without re-indexing.",
        discussion: """
            Exit codes: 0 success, 1 failure (database, coordinator, a job that failed), 64 bad usage, \
            65 invalid input (corpus, query or qrels lines).
            """,
        version: "0.4.0",
        subcommands: [
            ServeCommand.self, SubmitCommand.self, StatusCommand.self, MigrateCommand.self, KeysCommand.self,
            QueryCommand.self, EvalCommand.self, IndexCommand.self, UpgradeCommand.self, ReindexCommand.self,
            PromoteCommand.self, GcCommand.self, DeleteCommand.self, CancelCommand.self, ModelsCommand.self,
            ApiCommand.self, TokensCommand.self, BenchCopyCommand.self, BenchProjectionCommand.self,
        ]
    )
}
