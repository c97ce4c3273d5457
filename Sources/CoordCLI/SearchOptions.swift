import ArgumentParser
import Foundation
import Search
import Store

/// Which index to search, with which model folder, and how.
struct SearchOptions: ParsableArguments {
    @Option(name: .long, help: "The index to search.")
    var index: String

    @Option(name: .long, help: "The folder holding the index's model folder (default: $DRIFTLESS_MODELS, else ./models).")
    var models: String?

    @Option(name: .long, help: "Threads that embed queries.")
    var threads = 1

    @Flag(name: .long, help: "Compare every vector (a sequential scan): the ground truth, slower.")
    var exact = false

    @Option(name: .long, help: "HNSW candidate list size (1–1000; default: the index's, set with `coord index set`).")
    var efSearch: Int?

    var modelsFolder: String { models ?? ProcessInfo.processInfo.environment["DRIFTLESS_MODELS"] ?? "models" }

    func validate() throws {
        guard !index.isEmpty else { throw ValidationError("--index is empty") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let efSearch, !(1...1000).contains(efSearch) {
            throw ValidationError("--ef-search must be between 1 and 1000, not \(efSearch)")
        }
    }

    func searcher(_ database: DatabaseOptions) throws -> IndexSearcher {
        _ = try database.connect()
        do { return try IndexSearcher(url: database.url, index: index, modelsFolder: modelsFolder, threads: threads) } catch {
            throw fail(error)
        }
    }
}
