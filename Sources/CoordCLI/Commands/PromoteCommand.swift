import ArgumentParser
import Foundation
import Search
import Store

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
            let catalog = Catalog(connection)
            guard let record = try catalog.index(named: index) else { throw StoreError.unknownIndex(index) }
            let current = try ServingStore(connection).current(record)
            let modelName = to ?? current.model.name
            guard let model = try catalog.model(named: modelName) else {
                throw StoreError.unknownModel(modelName, known: try catalog.models().map(\.name))
            }
            guard model.name != record.model.name else {
                throw StoreError.invalid(
                    "index \(index) is embedded by \(model.name) already: nothing to promote (pass --to MODEL)"
                )
            }
            let successorName = "\(index)@\(model.name)"
            guard let successor = try catalog.index(named: successorName) else {
                throw StoreError.invalid(
                    "no successor index \(successorName): `coord reindex --index \(index) --to \(model.name)` first"
                )
            }
            try ServingStore(connection).promote(record, to: successor)
            print(
                "\(index): promoted to \(model.name) (native vectors in \(successorName)); `coord upgrade --index \(index) --rollback` undoes it"
            )
        } catch {
            throw fail(error)
        }
    }
}
