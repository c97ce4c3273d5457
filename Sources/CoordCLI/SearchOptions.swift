import ArgumentParser
import Foundation
import PostgresClient
import Search
import Store

/// Which index to search, with which model folder, and how.
struct SearchOptions: ParsableArguments {
    @Option(name: .long, help: "The index to search.")
    var index: String

    @Option(
        name: .long,
        help: "The folder holding the index's model folder (default: $DRIFTLESS_MODELS, else ./models)."
    )
    var models: String?

    @Option(
        name: .long,
        help:
            "The task of the queries, filled into the query prompt of models that take one (\"Instruct: {task}\\nQuery:\"), instead of the index's instruction."
    )
    var instruction: String?

    @Option(name: .long, help: "Threads that embed queries.")
    var threads = 1

    @Flag(name: .long, help: "Compare every vector (a sequential scan): the ground truth, slower.")
    var exact = false

    @Option(name: .long, help: "HNSW candidate list size (1–1000; default: the index's, set with `coord index set`).")
    var efSearch: Int?

    @Option(name: .long, help: "Embed queries with this registered model instead of the serving one (with --mode).")
    var model: String?

    @Option(
        name: .long,
        help:
            "Serve this way instead of the index's own: native, project, fuse or rescore (the newest projection for the model is used)."
    )
    var mode: String?

    @Option(name: .long, help: "With --mode fuse: the weight of the projected query (default: the index's, else 0.5).")
    var fuseWeight: Double?

    @Option(name: .long, help: "With --mode rescore: candidates re-scored (default 20).")
    var rescoreDepth: Int?

    @Flag(
        name: .long,
        inversion: .prefixedNo,
        help:
            "rescore: documents without a new-model vector are embedded by the workers (an urgent job through --coordinator); this process embeds them when the coordinator does not answer within a second, or with --no-on-demand-workers."
    )
    var onDemandWorkers = true

    @OptionGroup var client: ClientOptions

    var modelsFolder: String { CoordCLI.modelsFolder(models) }

    func validate() throws {
        guard !index.isEmpty else { throw ValidationError("--index is empty") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let mode, ServingState.Mode(rawValue: mode) == nil {
            throw ValidationError("--mode must be native, project, fuse or rescore, not \(mode)")
        }
        if model != nil && mode == nil {
            throw ValidationError("--model needs --mode (native, project, fuse or rescore)")
        }
        if let fuseWeight, !(0...1).contains(fuseWeight) {
            throw ValidationError("--fuse-weight must be between 0 and 1")
        }
        if let efSearch, !(1...1000).contains(efSearch) {
            throw ValidationError("--ef-search must be between 1 and 1000, not \(efSearch)")
        }
    }

    func searcher(_ database: DatabaseOptions) throws -> IndexSearcher {
        let connection = try database.connect()
        do {
            let searcher = try IndexSearcher(
                connection,
                index: index,
                modelsFolder: modelsFolder,
                threads: threads,
                serving: try serving(connection)
            )
            if onDemandWorkers { searcher.onDemand = WorkerEmbedding(client: client) }
            searcher.instruction = instruction
            return searcher
        } catch { throw fail(error) }
    }

    /// The serving state `--mode`/`--model` ask for, or nil for the index's own.
    func serving(_ connection: PostgresConnection) throws -> ServingState? {
        guard let modeName = mode, let mode = ServingState.Mode(rawValue: modeName) else { return nil }
        let catalog = Catalog(connection)
        guard let record = try catalog.index(named: index) else { return nil }  // IndexSearcher names the unknown index
        let current = try ServingStore(connection).current(record)
        var queryModel = mode == .native ? record.model : current.model
        if let model {
            guard let found = try catalog.model(named: model) else {
                throw StoreError.unknownModel(model, known: try catalog.models().map(\.name))
            }
            queryModel = found
        }
        return ServingState(
            mode: mode,
            model: queryModel,
            projectionId: try ServingStore(connection).latestProjection(index: record, from: queryModel),
            fuseWeight: fuseWeight ?? current.fuseWeight ?? ServingState.defaultFuseWeight,
            rescoreDepth: rescoreDepth ?? current.rescoreDepth ?? ServingState.defaultRescoreDepth,
            successorIndex: mode == .native ? nil : ServingState.successorName(of: record.name, model: queryModel.name)
        )
    }
}
