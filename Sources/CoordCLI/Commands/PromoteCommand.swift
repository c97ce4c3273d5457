import ArgumentParser
import Foundation
import Store
import Upgrade

struct PromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Serve an index from its complete successor (INDEX@MODEL): new-model queries on native vectors.",
        discussion:
            "Atomic, like every switch of serving state; `coord upgrade --index INDEX --rollback` returns to the state before."
    )

    @Option(name: .long, help: "The index.") var index: String
    @Option(name: .long, help: "The new model (default: the one the index serves now).") var to: String?
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let connection = try database.connect()
        do {
            let successor = try IndexLifecycle(connection).promote(index, to: to)
            print(
                "\(index): promoted to \(successor.model.name) (native vectors in \(successor.name)); `coord upgrade --index \(index) --rollback` undoes it"
            )
        } catch {
            throw fail(error)
        }
    }
}
