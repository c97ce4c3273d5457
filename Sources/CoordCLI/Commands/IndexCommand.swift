import ArgumentParser
import Foundation
import PostgresClient
import Store
import Synchronization
import Telemetry

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "List indexes, build or rebuild their HNSW index, set their search defaults.",
        subcommands: [List.self, Build.self, Set.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List indexes: model, vectors, HNSW parameters, ef_search, and after an upgrade how they serve."
        )
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let connection = try database.connect()
            do {
                let indexes = try Catalog(connection).indexes()
                if indexes.isEmpty { print("no indexes yet (index a corpus with `coord submit`)") }
                for index in indexes {
                    let vectors = try VectorSearch(connection).vectorCount(index)
                    let hnsw =
                        index.hasHnsw
                        ? "HNSW m \(index.hnsw.m), ef_construction \(index.hnsw.efConstruction)" : "no HNSW index"
                    let state = try ServingStore(connection).current(index)
                    let serving = state.mode == .native ? "" : "  serving \(state.model.name) queries (\(state.mode))"
                    print(
                        "\(index.name)  \(index.model.name) (\(index.model.dimension)-d \(index.storage.rawValue))  \(vectors) vectors  \(hnsw)  ef_search \(index.efSearch)\(serving)"
                    )
                }
            } catch { throw fail(error) }
        }
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Build an index's HNSW index (after `coord submit` the coordinator does this), or rebuild it with new parameters.",
            discussion:
                "A rebuild builds beside the old HNSW index and swaps them: searches go on throughout; commits into the index wait. "
                + "Ctrl-C or SIGTERM cancels the build in PostgreSQL too and drops what it had built (exit 130); a rebuild's old index stays."
        )
        @Option(name: .long, help: "The index.") var index: String
        @Option(name: .long, help: "HNSW m (2–100; default: the index's, initially 16).") var m: Int?
        @Option(name: .long, help: "HNSW ef_construction (4–1000, ≥ 2·m; default: the index's, initially 64).")
        var efConstruction: Int?
        @Flag(
            name: .long,
            help: "Build again even if the index has an HNSW index (implied by --m or --ef-construction)."
        ) var rebuild = false
        @Option(name: .long, help: "PostgreSQL maintenance_work_mem for the build.") var maintenanceWorkMem = "1GB"
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let connection = try database.connect()
            let record: IndexRecord
            do {
                guard let found = try Catalog(connection).index(named: index) else {
                    throw StoreError.invalid(
                        "unknown index \"\(index)\"; indexes: \(try Catalog(connection).indexes().map(\.name).joined(separator: ", "))"
                    )
                }
                record = found
            } catch { throw fail(error) }
            let parameters = HnswParameters(
                m: m ?? record.hnsw.m,
                efConstruction: efConstruction ?? record.hnsw.efConstruction
            )
            let url = try database.requiredURL()
            let bar = ProgressBar(label: "hnsw")
            let interrupted = Atomic<Bool>(false)
            let signals = SignalTrap { interrupted.store(true, ordering: .relaxed) }
            defer { withExtendedLifetime(signals) {} }
            var notices: [String] = []
            do {
                let outcome = try HnswIndexBuilder(url: url, maintenanceWorkMemory: maintenanceWorkMem).build(
                    record,
                    parameters: parameters,
                    rebuild: rebuild || m != nil || efConstruction != nil,
                    cancelled: { interrupted.load(ordering: .relaxed) },
                    notice: { notices.append($0) },
                    progress: { progress in
                        bar.show(
                            done: progress.tuplesDone,
                            total: max(progress.tuplesTotal, progress.tuplesDone, 1),
                            detail: progress.phase
                        )
                    }
                )
                bar.finish()
                for notice in notices { FileHandle.standardError.write(Data("PostgreSQL: \(notice)\n".utf8)) }
                switch outcome {
                case .alreadyBuilt:
                    print(
                        "\(index) already has an HNSW index (m \(record.hnsw.m), ef_construction \(record.hnsw.efConstruction)); --rebuild builds it again"
                    )
                case .built(let seconds):
                    print(
                        "\(index): HNSW index built (m \(parameters.m), ef_construction \(parameters.efConstruction)) in \(String(format: "%.1f", seconds)) s"
                    )
                }
            } catch .cancelled(let message) {
                bar.finish()
                throw fail("interrupted: \(message)", code: 130)
            } catch {
                bar.finish()
                throw fail(error)
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an index's default ef_search (what `coord query` and `coord eval` use)."
        )
        @Option(name: .long, help: "The index.") var index: String
        @Option(name: .long, help: "HNSW candidate list size at search time (1–1000).") var efSearch: Int
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let connection = try database.connect()
            do {
                guard let record = try Catalog(connection).index(named: index) else {
                    throw StoreError.unknownIndex(index)
                }
                try Catalog(connection).setSearchParameters(index: record, efSearch: efSearch)
                print("\(index): ef_search \(efSearch)")
            } catch { throw fail(error) }
        }
    }
}
