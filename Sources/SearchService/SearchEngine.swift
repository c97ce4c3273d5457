import Foundation
import PostgresClient
import Search
import Store

/// What the HTTP routes call: searches, embeddings and index listings over the service's
/// lanes and warm models. Every method blocks (libpq, the models): routes run them on the
/// service's thread pool.
final class SearchEngine: Sendable {
    struct Settings: Sendable {
        var modelsFolder: String
        /// Indexes served; nil: every index in the database.
        var indexes: Set<String>?
        var maximumQueries = 64
        var maximumInputs = 256
        var maximumK = 1000
    }

    let settings: Settings
    let lanes: SearchLanes
    let models: WarmModels
    let coordinator: CoordinatorLink?

    init(settings: Settings, lanes: SearchLanes, models: WarmModels, coordinator: CoordinatorLink?) {
        self.settings = settings
        self.lanes = lanes
        self.models = models
        self.coordinator = coordinator
    }

    func serves(_ index: String) -> Bool { settings.indexes?.contains(index) ?? true }

    // MARK: search

    func search(_ request: SearchRequest) throws(APIError) -> SearchReply {
        let texts = try validate(request)
        let k = request.k ?? 10
        var filters: [MetadataFilter] = []
        for (field, value) in (request.filter ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = field.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !path.contains(where: \.isEmpty) else {
                throw .invalid("filter", "\"\(field)\" has an empty field name")
            }
            guard let text = value.filterText else {
                throw .invalid("filter", "\"\(field)\" must be a string, number or boolean")
            }
            filters.append(MetadataFilter(path: path, value: text))
        }
        return try onSearcher(request.index) { searcher throws(SearchError) in
            let method = searcher.method(exact: request.exact ?? false, efSearch: request.ef_search)
            // The searcher is this lane's, one request at a time: the instruction is this request's only.
            searcher.instruction = request.instruction
            defer { searcher.instruction = nil }
            let vectors = try searcher.embed(texts)
            var answers: [[SearchHit]] = []
            for vector in vectors {
                let hits = try searcher.search(vector, k: k, filters: filters, method: method)
                answers.append(try searcher.results(hits).map(SearchHit.init))
            }
            var reply = SearchReply(
                index: searcher.index.name,
                model: searcher.serving.model.name,
                mode: searcher.serving.mode.rawValue,
                method: "\(method)"
            )
            if request.query != nil {
                reply.results = answers[0]
            } else {
                reply.queries = zip(texts, answers).map { .init(query: $0, results: $1) }
            }
            return reply
        }
    }

    private func validate(_ request: SearchRequest) throws(APIError) -> [String] {
        guard !request.index.isEmpty else { throw .invalid("index", "is empty") }
        let texts: [String]
        switch (request.query, request.queries) {
        case (nil, nil): throw .invalid("query", "give \"query\" (a text) or \"queries\" (a list of texts)")
        case (.some, .some): throw .invalid("queries", "give \"query\" or \"queries\", not both")
        case (.some(let query), nil): texts = [query]
        case (nil, .some(let queries)):
            guard !queries.isEmpty else { throw .invalid("queries", "is empty") }
            guard queries.count <= settings.maximumQueries else {
                throw .tooLarge(
                    "queries: \(queries.count) queries; at most \(settings.maximumQueries) in one request",
                    field: "queries"
                )
            }
            texts = queries
        }
        if let blank = texts.firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
            throw request.query != nil
                ? .invalid("query", "is empty") : .invalid("queries", "query \(blank) is empty")
        }
        if let k = request.k, !(1...settings.maximumK).contains(k) {
            throw .invalid("k", "must be between 1 and \(settings.maximumK), not \(k)")
        }
        if let instruction = request.instruction,
            instruction.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || instruction.utf8.count > 4096
        {
            throw .invalid("instruction", "must be a non-blank text of at most 4,096 bytes")
        }
        if let ef = request.ef_search, !(1...1000).contains(ef) {
            throw .invalid("ef_search", "must be between 1 and 1000, not \(ef)")
        }
        return texts
    }

    /// Runs `body` with the searcher of `index` on a free lane; a generation dropped meanwhile
    /// (`coord gc`) is opened again once.
    private func onSearcher<T>(
        _ index: String,
        _ body: (IndexSearcher) throws(SearchError) -> T
    ) throws(APIError) -> T {
        guard serves(index) else { throw .unknownIndex(index) }
        do {
            return try lanes.withLane { lane throws(APIError) -> T in
                for attempt in 0..<2 {
                    do throws(SearchError) {
                        let searcher = try lanes.searcher(index, on: lane) { connection throws(SearchError) in
                            try open(index, on: connection)
                        }
                        return try body(searcher)
                    } catch  where error.isGenerationGone && attempt == 0 {
                        lanes.forget(index, on: lane)
                    } catch {
                        throw .from(error, index: index)
                    }
                }
                throw APIError(
                    .internalServerError,
                    code: "search_failed",
                    "index \(index) changed twice while searched"
                )
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw .unavailable("database_unavailable", "\(error)")
        }
    }

    private func open(_ index: String, on connection: PostgresConnection) throws(SearchError) -> IndexSearcher {
        let searcher = try IndexSearcher(connection, index: index, modelsFolder: settings.modelsFolder)
        let models = self.models
        searcher.encoderSource = { model, task throws(SearchError) in
            let batcher = try models.batcher(for: model)
            return task.map { InstructedQueries(batcher: batcher, task: $0) } ?? batcher
        }
        searcher.onDemand = coordinator?.onDemand()
        return searcher
    }

    // MARK: embeddings

    func embeddings(_ request: EmbeddingsRequest) throws(APIError) -> EmbeddingsReply {
        let texts = request.input.texts
        guard !texts.isEmpty else { throw .invalid("input", "is empty") }
        guard texts.count <= settings.maximumInputs else {
            throw .tooLarge(
                "input: \(texts.count) texts; at most \(settings.maximumInputs) in one request",
                field: "input"
            )
        }
        if let blank = texts.firstIndex(where: \.isEmpty) {
            throw .invalid("input", texts.count == 1 ? "is empty" : "text \(blank) is empty")
        }
        let base64: Bool
        switch request.encoding_format ?? "float" {
        case "float": base64 = false
        case "base64": base64 = true
        case let other: throw .invalid("encoding_format", "must be float or base64, not \(other)")
        }
        let vectors: [[Float]]
        let tokens: [Int]
        let modelName: String
        switch (request.model, request.driftless_index) {
        case (_, .some(let index)):
            if request.prompt_name != nil {
                throw .invalid(
                    "prompt_name",
                    "not with driftless_index: the index's serving model's query prompt is used"
                )
            }
            (vectors, tokens, modelName) = try onSearcher(index) { searcher throws(SearchError) in
                let batcher = try models.batcher(for: searcher.serving.model)
                let vectors = try searcher.embed(texts).map(\.search)
                let prompt = searcher.queryTask.map { MicroBatcher.Prompt.instructed($0) } ?? .query
                return (vectors, batcher.tokenCounts(texts, prompt: prompt), searcher.serving.model.name)
            }
        case (.some(let name), nil):
            let batcher = try warmModel(named: name)
            if let prompt = request.prompt_name, !batcher.promptNames.contains(prompt) {
                let known =
                    batcher.promptNames.isEmpty
                    ? "it has none" : "it has \(batcher.promptNames.joined(separator: ", "))"
                throw .invalid("prompt_name", "model \(name) has no prompt \"\(prompt)\"; \(known)")
            }
            do { vectors = try batcher.embed(texts, prompt: .named(request.prompt_name)) } catch {
                throw .from(error, index: "")
            }
            tokens = batcher.tokenCounts(texts, prompt: .named(request.prompt_name))
            modelName = name
        case (nil, nil): throw .invalid("model", "give a registered model, or driftless_index")
        }
        if let dimensions = request.dimensions, dimensions != vectors.first?.count {
            throw .invalid(
                "dimensions",
                "model \(modelName) makes \(vectors.first?.count ?? 0)-d vectors, not \(dimensions)"
            )
        }
        let total = tokens.reduce(0, +)
        return EmbeddingsReply(
            data: vectors.enumerated().map { index, vector in
                .init(embedding: base64 ? .base64(Self.base64(vector)) : .floats(vector), index: index)
            },
            model: modelName,
            usage: .init(prompt_tokens: total, total_tokens: total)
        )
    }

    /// A registered model, warm; 404 when none has that name.
    private func warmModel(named name: String) throws(APIError) -> MicroBatcher {
        let record: ModelRecord?
        do {
            record = try lanes.withLane { lane in try Catalog(lane.connection!).model(named: name) }
        } catch {
            throw .unavailable("database_unavailable", "\(error)")
        }
        guard let record else {
            throw APIError(.notFound, code: "unknown_model", "no model named \"\(name)\" is registered", field: "model")
        }
        do { return try models.batcher(for: record) } catch { throw .from(error, index: "") }
    }

    static func base64(_ vector: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(vector.count * 4)
        for value in vector {
            let bits = value.bitPattern.littleEndian
            for shift in stride(from: 0, to: 32, by: 8) {
                bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift)))
            }
        }
        return Data(bytes).base64EncodedString()
    }

    // MARK: indexes

    func indexes(named name: String? = nil) throws(APIError) -> [IndexInfo] {
        if let name, !serves(name) { throw .unknownIndex(name) }
        do {
            return try lanes.withLane { lane in
                let connection = lane.connection!
                let catalog = Catalog(connection)
                let vectors = VectorSearch(connection)
                let serving = ServingStore(connection)
                let records: [IndexRecord]
                if let name {
                    guard let record = try catalog.index(named: name) else { throw APIError.unknownIndex(name) }
                    records = [record]
                } else {
                    records = try catalog.indexes().filter { serves($0.name) }
                }
                return try records.map { index in
                    let count = try vectors.vectorCount(index)
                    let state = try serving.current(index)
                    var successor: IndexInfo.Successor?
                    let successorName =
                        state.successorIndex
                        ?? (state.model.name == index.model.name
                            ? nil : ServingState.successorName(of: index.name, model: state.model.name))
                    if let successorName, let record = try catalog.index(named: successorName) {
                        let done = try vectors.vectorCount(record)
                        successor = .init(
                            name: successorName,
                            vectors: done,
                            completeness: count == 0 ? 1 : min(1, Double(done) / Double(count))
                        )
                    }
                    return IndexInfo(
                        name: index.name,
                        model: index.model.name,
                        dimension: index.model.dimension,
                        storage: index.storage.rawValue,
                        vectors: count,
                        hnsw: index.hasHnsw,
                        efSearch: index.efSearch,
                        serving: .init(
                            mode: state.mode.rawValue,
                            model: state.model.name,
                            fuseWeight: state.mode == .fuse ? state.fuseWeight ?? ServingState.defaultFuseWeight : nil,
                            rescoreDepth: state.mode == .rescore
                                ? state.rescoreDepth ?? ServingState.defaultRescoreDepth : nil,
                            successor: successor
                        )
                    )
                }
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw .unavailable("database_unavailable", "\(error)")
        }
    }

    // MARK: readiness

    /// Loads the models of every served index (the index's own and its serving model); returns
    /// those that could not load, with why.
    func warmUp() -> [String: String] {
        var missing: [String: String] = [:]
        let records: [IndexRecord]
        do {
            records = try lanes.withLane { lane in try Catalog(lane.connection!).indexes().filter { serves($0.name) } }
        } catch {
            return ["database": "\(error)"]
        }
        for index in records {
            let state = try? lanes.withLane { lane in try ServingStore(lane.connection!).current(index) }
            for model in [index.model] + (state.map { [$0.model] } ?? []) where missing[model.name] == nil {
                do { _ = try models.batcher(for: model) } catch { missing[model.name] = "\(error)" }
            }
        }
        return missing
    }

    /// Whether the database answers now.
    func databaseReachable() -> Bool {
        (try? lanes.withLane { lane in try lane.connection!.execute("SELECT 1").scalar }) != nil
    }
}
