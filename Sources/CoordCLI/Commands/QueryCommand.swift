import ArgumentParser
import Corpus
import Foundation
import Search
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
            if json || queries != nil {
                var vectors: IndexSearcher.QueryVectors?
                if showVectors {
                    do { vectors = try searcher.embed([query.text])[0] } catch { throw fail(error) }
                }
                let object = QueryAnswer(
                    query: query.id,
                    text: query.text,
                    index: searcher.index.name,
                    model: searcher.serving.model.name,
                    mode: searcher.serving.mode.rawValue,
                    method: "\(method)",
                    results: results,
                    vector: vectors?.search,
                    rescoreVector: vectors?.rescore
                )
                print(String(decoding: try encoder.encode(object), as: UTF8.self))
                continue
            }
            print(
                "\(searcher.index.name) (\(searcher.serving.model.name), \(searcher.serving.mode.rawValue), \(method)): \(results.count) results"
            )
            for (rank, result) in results.enumerated() {
                print(String(format: "%3d  %.4f  ", rank + 1, result.score) + "\(result.id)  \(result.title)")
                let snippet = result.snippet.replacingOccurrences(of: "\n", with: " ")
                if !snippet.isEmpty { print("     \(snippet)\(snippet.count >= 160 ? "…" : "")") }
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
