import ArgumentParser
import Foundation
import PostgresClient
import Search
import Store
import Synchronization
import Telemetry

struct ReindexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract:
            "Embed every document of an index with a new model into its successor index INDEX@MODEL, while the index keeps serving.",
        discussion:
            "A job for the workers like any other (only documents the successor lacks); `coord promote` switches to it once complete. "
            + "Ctrl-C or SIGTERM cancels what is in flight (the query listing the documents, or the upload, which is abandoned) and exits 130; "
            + "once the job is sealed it keeps running on the workers."
    )

    @Option(name: .long, help: "The index.") var index: String
    @Option(name: .long, help: "The new model (registered).") var to: String
    @Flag(name: .long, help: "Return once the job is accepted.") var detach = false
    @Option(name: .long, help: "The folder with the model folders (default: $DRIFTLESS_MODELS, else ./models).")
    var models: String?
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var client: ClientOptions

    func run() throws {
        _ = try database.connect()
        let folder = modelsFolder(models)
        let interrupted = Atomic<Bool>(false)
        let statement = Mutex<PostgresCancelHandle?>(nil)
        let signals = SignalTrap {
            interrupted.store(true, ordering: .relaxed)
            statement.withLock { $0 }?.cancel()
        }
        defer { withExtendedLifetime(signals) {} }
        let upgrade: ModelUpgrade
        let successor: IndexRecord
        let missing: [(id: String, line: String)]
        do {
            upgrade = try ModelUpgrade(url: database.url, index: index, to: to, modelsFolder: folder)
            guard upgrade.model.name != upgrade.index.model.name else {
                throw fail("index \(index) is embedded by \(to) already: nothing to re-index")
            }
            successor = try upgrade.successor()
            statement.withLock { $0 = upgrade.cancelHandle }
            missing = try upgrade.unembedded()
            statement.withLock { $0 = nil }
        } catch let error as SearchError {
            if interrupted.load(ordering: .relaxed) {
                throw fail("interrupted while listing the documents to re-embed; nothing was submitted", code: 130)
            }
            throw fail(error)
        }
        guard !missing.isEmpty else {
            print("\(successor.name) already holds every document of \(index): `coord promote --index \(index)`")
            return
        }
        var submission = SuccessorSubmission(client: client, model: to)
        submission.isCancelled = { interrupted.load(ordering: .relaxed) }
        let job = try submission.submit(missing.map(\.line), into: successor.name, wait: !detach)
        print(
            detach
                ? "\(job)"
                : "\(successor.name): every document of \(index) embedded by \(to); `coord promote --index \(index)` switches to it"
        )
    }
}
