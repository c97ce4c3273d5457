import Compat
import Foundation
import PostgresClient
import Retrieval
import Store

/// Searches one index the way it serves: queries embedded by its own model (native), or,
/// after an upgrade, by the new model through a projection (project), blended with the old
/// model's query (fuse), or re-scoring the stored vectors' candidates with new-model
/// vectors (rescore; documents without one are embedded on demand and kept).
public final class IndexSearcher {
    public let index: IndexRecord
    public let serving: ServingState
    /// How it serves, resolved: each mode with what it needs (``Serving``).
    let strategy: Serving
    /// The index of the new model's vectors (rescore, promoted), when serving needs one.
    public var successor: IndexRecord? { strategy.successor }
    let vectors: VectorSearch
    private let modelsFolder: String
    private let threads: Int
    private var encoders: [String: any QueryEmbedding] = [:]
    /// Where encoders come from when set (the search service: warm models shared by every
    /// search, their calls batched); nil: each model loads here once, on first use.
    public var encoderSource: ((ModelRecord, _ task: String?) throws(SearchError) -> any QueryEmbedding)?
    /// Documents embedded on demand while re-scoring (by the workers or here).
    public private(set) var embeddedOnDemand = 0
    /// Documents of those the workers embedded.
    public private(set) var embeddedByWorkers = 0
    /// rescore: hands documents without a new-model vector to the workers (see ``OnDemandEmbedding``).
    /// Nil, or documents it leaves without a vector: embedded in this process.
    public var onDemand: (any OnDemandEmbedding)?
    /// The task of this search's queries (`--instruction`), instead of the index's own.
    public var instruction: String?

    /// The task filled into the query prompt: this search's instruction, else the index's.
    public var queryTask: String? { instruction ?? index.instruction }

    /// One result as shown to a person: id, cosine similarity, title and the start of the text.
    public struct Result: Sendable, Codable, Equatable {
        public var id: String
        public var score: Double
        public var title: String
        public var snippet: String
        /// The document's metadata, its JSON text (not in `coord query`'s JSON; the service's
        /// replies carry it as an object).
        public var metadata = "{}"

        public init(id: String, score: Double, title: String, snippet: String, metadata: String = "{}") {
            self.id = id
            self.score = score
            self.title = title
            self.snippet = snippet
            self.metadata = metadata
        }

        private enum CodingKeys: String, CodingKey { case id, score, title, snippet }
    }

    /// What a query needs under the serving mode: the vector searched against the stored
    /// vectors, and for rescore the new model's vector.
    public struct QueryVectors: Sendable {
        public var search: [Float]
        public var rescore: [Float]?
    }

    /// Opens `indexName` over `connection`; models load from `modelsFolder` when first
    /// needed. `serving` overrides the index's own serving state (as `coord eval --mode` does).
    public init(
        _ connection: PostgresConnection,
        index indexName: String,
        modelsFolder: String,
        threads: Int = 1,
        serving override: ServingState? = nil
    ) throws(SearchError) {
        let catalog = Catalog(connection)
        (index, serving, strategy) = try SearchError.mapping {
            let index = try catalog.existingIndex(named: indexName)
            let store = ServingStore(connection)
            let serving = try override ?? store.current(index)
            return (index, serving, try Serving.resolve(serving, index: index, catalog: catalog, store: store))
        }
        vectors = VectorSearch(connection)
        self.modelsFolder = modelsFolder
        self.threads = threads
    }

    /// The vectors searched: the successor's once promoted, else the index's own.
    var searched: IndexRecord { strategy.searched(index) }

    /// The method a search uses: `exact`, or HNSW with `efSearch` (default: the index's own).
    /// An index without an HNSW index is always searched exactly.
    public func method(exact: Bool, efSearch: Int? = nil) -> SearchMethod {
        exact || !searched.hasHnsw ? .exact : .hnsw(efSearch: efSearch ?? searched.efSearch)
    }

    /// The encoder of a registered model, loaded once.
    public func encoder(for model: ModelRecord) throws(SearchError) -> any QueryEmbedding {
        // One encoder per model and task: a search's instruction may differ from the index's.
        let key = "\(model.name)\u{0}\(queryTask ?? "")"
        if let loaded = encoders[key] { return loaded }
        let encoder: any QueryEmbedding =
            if let encoderSource { try encoderSource(model, queryTask) } else {
                try QueryEncoder(for: model, modelsFolder: modelsFolder, threads: threads, task: queryTask)
            }
        encoders[key] = encoder
        return encoder
    }

    /// Embeds query texts (in one batch per model) as the serving mode needs them.
    public func embed(_ texts: [String]) throws(SearchError) -> [QueryVectors] {
        if let blank = texts.firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
            throw .emptyQuery(id: texts.count > 1 ? "#\(blank + 1)" : nil)
        }
        return try strategy.embed(
            texts,
            old: { () throws(SearchError) in try encoder(for: index.model) },
            new: { () throws(SearchError) in try encoder(for: serving.model) }
        )
    }

    /// The `k` best documents for an embedded query, best first.
    public func search(
        _ query: QueryVectors,
        k: Int,
        filters: [MetadataFilter] = [],
        method: SearchMethod
    ) throws(SearchError) -> [ScoredDocument] {
        try SearchError.mapping {
            try strategy.search(query, k: k, filters: filters, method: method, index: index, vectors: vectors) {
                try embedOnDemand($0, into: $1)
            }
        }
    }

    /// Embeds documents with the serving model and keeps their vectors in `successor`: by the
    /// workers when ``onDemand`` is set, here for whatever they leave.
    private func embedOnDemand(_ ids: [String], into successor: IndexRecord) throws -> [String: [Float]] {
        var found: [String: [Float]] = [:]
        if let onDemand {
            try onDemand.embed(ids: ids, of: index, into: successor)
            found = try vectors.vectors(successor, ids: ids, current: index)
            embeddedByWorkers += found.count
        }
        let documents = try vectors.embeddingTexts(index, ids: ids.filter { found[$0] == nil })
        if !documents.isEmpty {
            let embedded = try encoder(for: serving.model).embedDocuments(documents.map(\.text))
            try vectors.store(
                successor,
                vectors: zip(documents, embedded).map { ($0.id, $1, $0.hash) },
                documentsOf: index
            )
            found.merge(zip(documents.map(\.id), embedded)) { a, _ in a }
        }
        embeddedOnDemand += found.count
        return found
    }

    /// The `k` best documents for `text`, with titles and snippets.
    public func query(
        _ text: String,
        k: Int,
        filters: [MetadataFilter] = [],
        method: SearchMethod,
        snippetLength: Int = 160
    ) throws(SearchError) -> [Result] {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .emptyQuery(id: nil) }
        let hits = try search(try embed([text])[0], k: k, filters: filters, method: method)
        return try results(hits, snippetLength: snippetLength)
    }

    /// Titles, snippets and metadata for scored documents, in their order.
    public func results(_ hits: [ScoredDocument], snippetLength: Int = 160) throws(SearchError) -> [Result] {
        let documents: [String: (title: String, snippet: String, metadata: String)]
        do { documents = try vectors.documents(searched, ids: hits.map(\.id), snippetLength: snippetLength) } catch {
            throw .store(error)
        }
        return hits.map { hit in
            Result(
                id: hit.id,
                score: hit.score,
                title: documents[hit.id]?.title ?? "",
                snippet: documents[hit.id]?.snippet ?? "",
                metadata: documents[hit.id]?.metadata ?? "{}"
            )
        }
    }

    /// How many vectors the searched index holds.
    public func vectorCount() throws(SearchError) -> Int {
        do { return try vectors.vectorCount(searched) } catch { throw .store(error) }
    }

    /// Those of `ids` with no vector in the searched index.
    public func missing(_ ids: Set<String>) throws(SearchError) -> Set<String> {
        do { return try vectors.missing(searched, ids: ids) } catch { throw .store(error) }
    }

    /// fuse: `weight·projected + (1 − weight)·old`, at unit length.
    package static func fused(_ projected: [Float], _ old: [Float], weight: Double) -> [Float] {
        let w = Float(weight)
        return Projection.unitLength(zip(projected, old).map { w * $0 + (1 - w) * $1 })
    }

    package static func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
}

/// Has documents embedded by the new model into a successor index, for re-scoring: in Driftless
/// the workers, as an urgent job (`coord query`/`coord eval` with `--coordinator`). Documents it
/// leaves without a vector (no coordinator, no worker with the model) are embedded by the caller.
public protocol OnDemandEmbedding: AnyObject {
    /// Embeds the documents `ids` of `index` into `successor`, waiting until they are stored.
    func embed(ids: [String], of index: IndexRecord, into successor: IndexRecord) throws
}
