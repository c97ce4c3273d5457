import ArgumentParser
import Corpus
import Foundation
import Search
import SearchService
import Store

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Search an index: embed the query with the index's model, print the nearest documents.",
        discussion: """
            With --queries FILE, every query of a JSONL file ({"_id": …, "text": …} per line) is run and \
            one JSON line per query is printed: {"query": ID, "results": [{"id", "score", "title", "snippet"}, …]}.
            """
    )

    @Argument(help: "The query text.")
    var text: String?

    @Option(name: .long, help: "A JSONL file of queries to run in a batch instead.")
    var queries: String?

    @Option(name: [.customShort("k"), .long], help: "How many results.")
    var k = 10

    @Option(
        name: .long,
        parsing: .singleValue,
        help:
            "Only documents whose metadata field equals the value: field=value (dotted paths reach nested fields; repeatable, all must hold)."
    )
    var filter: [String] = []

    @Flag(name: .long, help: "Print JSON (one object; with --queries, one line per query).")
    var json = false

    @Flag(
        name: .long,
        help:
            "With --json: add the query vector as the index serves it (\"vector\": projected, fused, …) and, for rescore, the new model's (\"rescoreVector\")."
    )
    var showVectors = false

    @Option(
        name: .long,
        help:
            "Ask a running search service (`coord api`) at this URL instead of embedding here, e.g. http://127.0.0.1:8080."
    )
    var api: String?

    @Option(
        name: .long,
        help: "With --api: a file holding the bearer token (default: $DRIFTLESS_API_TOKEN, if set)."
    )
    var tokenFile: String?

    @OptionGroup var search: SearchOptions
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard k >= 1, k <= 1000 else { throw ValidationError("-k must be between 1 and 1000, not \(k)") }
        switch (text, queries) {
        case (nil, nil): throw ValidationError("give a query text, or --queries FILE")
        case (.some, .some): throw ValidationError("give a query text or --queries FILE, not both")
        case (.some(let text), nil) where text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty:
            throw ValidationError("the query is empty")
        default: break
        }
        if api != nil, search.mode != nil || search.model != nil || showVectors {
            throw ValidationError("--api serves the index as it serves: not with --mode, --model or --show-vectors")
        }
    }

    func run() throws {
        let filters: [MetadataFilter]
        do { filters = try filter.map { try MetadataFilter(parsing: $0) } } catch { throw fail(error, code: 64) }
        let queryList: [(id: String?, text: String)]
        if let queries {
            do { queryList = try IndexEvaluation.loadQueries(queries).map { ($0.id, $0.text) } } catch {
                throw fail(error, code: 65)
            }
        } else {
            queryList = [(nil, text!)]
        }
        if let api {
            try runRemote(api, queries: queryList, filters: filters)
            return
        }
        var searcher = try search.searcher(database)
        var method = searcher.method(exact: search.exact, efSearch: search.efSearch)
        let encoder = JSONEncoder()
        encoder.outputFormatting = queries == nil ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        for query in queryList {
            let results: [IndexSearcher.Result]
            do { results = try searcher.query(query.text, k: k, filters: filters, method: method) } catch {
                // `coord gc` dropped the generation this searcher had opened: once more, on the current one.
                guard error.isGenerationGone else { throw fail(error) }
                searcher = try search.searcher(database)
                method = searcher.method(exact: search.exact, efSearch: search.efSearch)
                do { results = try searcher.query(query.text, k: k, filters: filters, method: method) } catch {
                    throw fail(error)
                }
            }
            var vectors: IndexSearcher.QueryVectors?
            if showVectors && (json || queries != nil) {
                do { vectors = try searcher.embed([query.text])[0] } catch { throw fail(error) }
            }
            try show(
                QueryAnswer(
                    query: query.id,
                    text: query.text,
                    index: searcher.index.name,
                    model: searcher.serving.model.name,
                    mode: searcher.serving.mode.rawValue,
                    method: "\(method)",
                    results: results,
                    vector: vectors?.search,
                    rescoreVector: vectors?.rescore
                ),
                encoder: encoder
            )
        }
    }

    /// Prints one query's answer: a JSON line (`--json`, `--queries`) or for a person.
    private func show(_ answer: QueryAnswer, encoder: JSONEncoder) throws {
        if json || queries != nil {
            print(String(decoding: try encoder.encode(answer), as: UTF8.self))
            return
        }
        print("\(answer.index) (\(answer.model), \(answer.mode), \(answer.method)): \(answer.results.count) results")
        for (rank, result) in answer.results.enumerated() {
            print(String(format: "%3d  %.4f  ", rank + 1, result.score) + "\(result.id)  \(result.title)")
            let snippet = result.snippet.replacingOccurrences(of: "\n", with: " ")
            if !snippet.isEmpty { print("     \(snippet)\(snippet.count >= 160 ? "…" : "")") }
        }
    }

    /// The same searches through a running `coord api`, up to 64 queries a request.
    private func runRemote(
        _ url: String,
        queries queryList: [(id: String?, text: String)],
        filters: [MetadataFilter]
    )
        throws
    {
        let client: APIClient
        do { client = try APIClient(base: url, tokenFile: tokenFile) } catch { throw fail(error, code: 64) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = queries == nil ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        var filterObject: [String: JSONValue] = [:]
        for filter in filters { filterObject[filter.path.joined(separator: ".")] = .string(filter.value) }
        for start in stride(from: 0, to: queryList.count, by: 64) {
            let chunk = Array(queryList[start..<min(start + 64, queryList.count)])
            let request = SearchRequest(
                index: search.index,
                queries: chunk.map(\.text),
                k: k,
                filter: filterObject.isEmpty ? nil : filterObject,
                exact: search.exact ? true : nil,
                ef_search: search.efSearch
            )
            let reply: SearchReply
            do { reply = try client.search(request) } catch { throw fail(error) }
            for (query, answer) in zip(chunk, reply.queries ?? []) {
                try show(
                    QueryAnswer(
                        query: query.id,
                        text: query.text,
                        index: reply.index,
                        model: reply.model,
                        mode: reply.mode,
                        method: reply.method,
                        results: answer.results.map(\.result)
                    ),
                    encoder: encoder
                )
            }
        }
    }

    struct QueryAnswer: Encodable {
        var query: String?
        var text: String
        var index: String
        /// The model that embedded the query, and how it met the vectors (native, project, …).
        var model: String
        var mode: String
        var method: String
        var results: [IndexSearcher.Result]
        var vector: [Float]?
        var rescoreVector: [Float]?
    }
}
