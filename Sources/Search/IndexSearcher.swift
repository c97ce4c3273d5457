import Foundation
import PostgresClient
import Retrieval
import Store

/// Searches one index: embeds query texts with the index's model, then asks pgvector.
public final class IndexSearcher {
    public let index: IndexRecord
    public let encoder: QueryEncoder
    let vectors: VectorSearch

    /// One result as shown to a person: id, cosine similarity, title and the start of the text.
    public struct Result: Sendable, Codable, Equatable {
        public var id: String
        public var score: Double
        public var title: String
        public var snippet: String
    }

    /// Opens `indexName` in the database at `url` and loads its model from `modelsFolder`.
    public init(url: String, index indexName: String, modelsFolder: String, threads: Int = 1) throws(SearchError) {
        let connection: PostgresConnection
        do { connection = try PostgresConnection(url: url) } catch {
            throw .store(.database(error, during: "connecting to \(PostgresURL.redacted(url))"))
        }
        let catalog = Catalog(connection)
        do {
            guard let index = try catalog.index(named: indexName) else {
                throw SearchError.unknownIndex(indexName, known: try catalog.indexes().map(\.name))
            }
            self.index = index
        } catch let error as StoreError {
            throw .store(error)
        } catch let error as SearchError {
            throw error
        } catch {
            throw .store(.invalid("\(error)"))
        }
        vectors = VectorSearch(connection)
        encoder = try QueryEncoder(for: index, modelsFolder: modelsFolder, threads: threads)
    }

    /// The method a search uses: `exact`, or HNSW with `efSearch` (default: the index's own).
    /// An index without an HNSW index is always searched exactly.
    public func method(exact: Bool, efSearch: Int? = nil) -> SearchMethod {
        exact || !index.hasHnsw ? .exact : .hnsw(efSearch: efSearch ?? index.efSearch)
    }

    /// The `k` best documents for `text`, with titles and snippets.
    public func query(
        _ text: String, k: Int, filters: [MetadataFilter] = [], method: SearchMethod, snippetLength: Int = 160
    ) throws(SearchError) -> [Result] {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .emptyQuery(id: nil) }
        let vector = try encoder.embed([text])[0]
        let hits = try search(vector: vector, k: k, filters: filters, method: method)
        let documents: [String: (title: String, snippet: String)]
        do { documents = try vectors.documents(index, ids: hits.map(\.id), snippetLength: snippetLength) } catch {
            throw .store(error)
        }
        return hits.map { hit in
            Result(id: hit.id, score: hit.score, title: documents[hit.id]?.title ?? "", snippet: documents[hit.id]?.snippet ?? "")
        }
    }

    /// The `k` nearest documents to an already embedded query.
    public func search(
        vector: [Float], k: Int, filters: [MetadataFilter] = [], method: SearchMethod
    ) throws(SearchError) -> [ScoredDocument] {
        do { return try vectors.search(index, vector: vector, k: k, filters: filters, method: method) } catch {
            throw .store(error)
        }
    }

    /// How many vectors the index holds.
    public func vectorCount() throws(SearchError) -> Int {
        do { return try vectors.vectorCount(index) } catch { throw .store(error) }
    }

    /// Those of `ids` with no vector in the index.
    public func missing(_ ids: Set<String>) throws(SearchError) -> Set<String> {
        do { return try vectors.missing(index, ids: ids) } catch { throw .store(error) }
    }
}
