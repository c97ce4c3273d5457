import ArgumentParser
import Foundation
import Search
import Store
import Synchronization
import Telemetry
import Upgrade

struct ReindexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract:
            "Embed every document of an index with a new model into its successor index INDEX@MODEL, while the index keeps serving.",
        discussion:
            "A job for the workers like any other: the coordinator stages, from the database, every document the successor lacks "
            + "or holds an older version of; `coord promote` switches to it once complete. Ctrl-C or SIGTERM while waiting exits 130; "
            + "the job keeps running on the workers (`coord cancel JOB` stops it)."
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
        let interrupted = Atomic<Bool>(false)
        let signals = SignalTrap { interrupted.store(true, ordering: .relaxed) }
        defer { withExtendedLifetime(signals) {} }
        let successor: IndexRecord
        do {
            let upgrade = try ModelUpgrade(
                try database.connect(),
                index: index,
                to: to,
                modelsFolder: modelsFolder(models)
            )
            guard upgrade.model.name != upgrade.index.model.name else {
                throw fail("index \(index) is embedded by \(to) already: nothing to re-index")
            }
            successor = try upgrade.successor()
        } catch let error as SearchError {
            throw fail(error)
        }
        var submission = SuccessorSubmission(client: client)
        submission.isCancelled = { interrupted.load(ordering: .relaxed) }
        let (job, toEmbed) = try submission.embed(ids: nil, of: index, into: successor.name, wait: !detach)
        if detach {
            print("\(job)")
        } else if toEmbed == 0 {
            print("\(successor.name) already holds every document of \(index): `coord promote --index \(index)`")
        } else {
            print(
                "\(successor.name): every document of \(index) embedded by \(to); `coord promote --index \(index)` switches to it"
            )
        }
    }
}
