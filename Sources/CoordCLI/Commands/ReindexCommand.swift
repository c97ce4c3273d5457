import ArgumentParser
import Foundation
import Search
import Store

struct ReindexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract:
            "Embed every document of an index with a new model into its successor index INDEX@MODEL, while the index keeps serving.",
        discussion:
            "A job for the workers like any other (only documents the successor lacks); `coord promote` switches to it once complete."
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
        do {
            let upgrade = try ModelUpgrade(url: database.url, index: index, to: to, modelsFolder: folder)
            guard upgrade.model.name != upgrade.index.model.name else {
                throw fail("index \(index) is embedded by \(to) already: nothing to re-index")
            }
            let successor = try upgrade.successor()
            let missing = try upgrade.unembedded()
            guard !missing.isEmpty else {
                print("\(successor.name) already holds every document of \(index): `coord promote --index \(index)`")
                return
            }
            let job = try SuccessorSubmission(client: client, model: to).submit(
                missing.map(\.line),
                into: successor.name,
                wait: !detach
            )
            print(
                detach
                    ? "\(job)"
                    : "\(successor.name): every document of \(index) embedded by \(to); `coord promote --index \(index)` switches to it"
            )
        } catch let error as SearchError {
            throw fail(error)
        }
    }
}
