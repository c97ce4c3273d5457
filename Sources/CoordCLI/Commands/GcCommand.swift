import ArgumentParser
import Foundation
import Store
import Upgrade

struct GcCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "After `coord promote`: free an index's old vectors, its projections and its rollback history.",
        discussion: """
            The old model's vectors are kept after a promotion so that `coord upgrade --rollback` can return to \
            them; gc gives that up: the successor becomes the index (its name and record, now with the new model), \
            so the next upgrade starts from the new model. \
            Refused unless the index serves promoted. --dry-run only reports.
            """
    )

    @Option(name: .long, help: "The index.") var index: String
    @Flag(name: .long, help: "Report what would be freed; change nothing.") var dryRun = false
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let connection = try database.connect()
        do {
            let (record, garbage) = try IndexLifecycle(connection).collectGarbage(index, dryRun: dryRun)
            let size = ByteCountFormatter.string(fromByteCount: Int64(garbage.oldVectorBytes), countStyle: .binary)
            print(
                "\(index): \(dryRun ? "would free" : "freed") \(garbage.oldVectors) vectors of \(record.model.name) (\(size) with their indexes), "
                    + "\(garbage.projections) projections, \(garbage.history) earlier serving states"
                    + (dryRun
                        ? ""
                        : "; \(index) is now embedded by \(garbage.successor.model.name) (the vectors and documents of \(garbage.successor.name)), and --rollback can no longer return")
            )
        } catch {
            throw fail(error)
        }
    }
}
