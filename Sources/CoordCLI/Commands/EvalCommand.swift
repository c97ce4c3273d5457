import ArgumentParser
import Foundation
import Retrieval
import Search

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "Score an index on labelled queries: nDCG, recall, MRR and mAP at each cutoff (trec_eval definitions).",
        discussion: """
            --queries is a BEIR query file (JSONL, "_id" and "text"); --qrels is BEIR (query-id, corpus-id, \
            score; header optional) or TREC (query 0 doc relevance) relevance judgments, graded. Only judged \
            queries are run. Qrels naming queries missing from the file, or documents missing from the index, \
            are counted and reported.
            """
    )

    @Option(name: .long, help: "The BEIR query file (JSONL).")
    var queries: String

    @Option(name: .long, help: "The relevance judgments (BEIR TSV or TREC qrels).")
    var qrels: String

    @Option(name: [.customShort("k"), .long], help: "Cutoffs, comma-separated.")
    var cutoffs = "10,100"

    @Flag(name: .long, help: "Print each query's metrics too.")
    var perQuery = false

    @Flag(name: .long, help: "Print one JSON object (keys \"ndcg@10\", \"recall@100\", …, \"queries\").")
    var json = false

    @Flag(
        name: .long,
        help: "Also search exactly, and report the share of the exact top 10 found and the exact metrics."
    )
    var compareExact = false

    @Option(name: .long, help: "Queries embedded per batch (1: measure each query's embedding latency).")
    var batchSize = 32

    @Option(name: .long, help: "Write the run in TREC format (query Q0 doc rank score tag) to this file.")
    var runFile: String?

    @OptionGroup var search: SearchOptions
    @OptionGroup var database: DatabaseOptions

    var cutoffList: [Int] { cutoffs.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        let parts = cutoffs.split(separator: ",")
        guard !parts.isEmpty, cutoffList.count == parts.count, cutoffList.allSatisfy({ (1...1000).contains($0) }) else {
            throw ValidationError("-k \"\(cutoffs)\": give cutoffs between 1 and 1000, comma-separated (e.g. 10,100)")
        }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        let searcher = try search.searcher(database)
        var options = IndexEvaluation.Options()
        options.cutoffs = cutoffList
        options.method = searcher.method(exact: search.exact, efSearch: search.efSearch)
        options.batchSize = batchSize
        options.compareExact = compareExact
        let bar = ProgressBar(label: "queries")
        let outcome: IndexEvaluation.Outcome
        do {
            outcome = try IndexEvaluation(searcher: searcher, options: options).run(
                queriesPath: queries,
                qrelsPath: qrels
            ) {
                bar.show(done: $0, total: $1, detail: "")
            }
        } catch {
            bar.finish()
            if case .input = error { throw fail(error, code: 65) }
            throw fail(error)
        }
        bar.finish()
        if let runFile { try writeRun(outcome.run, to: runFile) }
        if json { try printJSON(outcome, searcher) } else { printText(outcome, searcher) }
    }

    private func printText(_ outcome: IndexEvaluation.Outcome, _ searcher: IndexSearcher) {
        let evaluation = outcome.evaluation
        print(
            "\(searcher.index.name) (\(searcher.index.model.name), \(outcome.vectors) vectors), queries by \(outcome.serving.model.name) "
                + "(\(outcome.serving.mode)), \(outcome.method) search: "
                + "\(evaluation.queries) queries evaluated"
        )
        for name in evaluation.metricNames {
            var line =
                "  " + name.padding(toLength: 12, withPad: " ", startingAt: 0)
                + String(format: "%.4f", evaluation.means[name] ?? 0)
            if let exact = outcome.exactEvaluation?.means[name] { line += String(format: "   (exact %.4f)", exact) }
            print(line)
        }
        if let overlap = outcome.overlapWithExact {
            print(String(format: "  share of the exact top 10 found: %.4f", overlap))
        }
        print(
            "  qrels: \(outcome.unknownQueries) unknown queries, \(outcome.unknownDocuments) unknown documents; "
                + "\(outcome.unjudgedQueries) queries of the file without judgments (not run)"
        )
        let (search, embed, total) = (outcome.searchLatency, outcome.embeddingLatency, outcome.totalLatency)
        print(
            String(
                format:
                    "  latency ms: search p50 %.2f p99 %.2f; embedding p50 %.2f p99 %.2f%@; total p50 %.2f p99 %.2f",
                search.p50,
                search.p99,
                embed.p50,
                embed.p99,
                batchSize > 1 ? " (batches of \(batchSize), per query)" : "",
                total.p50,
                total.p99
            )
        )
        if perQuery {
            for scores in evaluation.perQuery {
                let values = evaluation.metricNames.map { "\($0) " + String(format: "%.4f", scores.metrics[$0] ?? 0) }
                print("  \(scores.query)  " + values.joined(separator: "  "))
            }
        }
    }

    private func printJSON(_ outcome: IndexEvaluation.Outcome, _ searcher: IndexSearcher) throws {
        var object: [String: Any] = [:]
        for (name, value) in outcome.evaluation.means { object[name] = value }
        object["queries"] = outcome.evaluation.queries
        object["index"] = searcher.index.name
        object["model"] = searcher.index.model.name
        object["method"] = "\(outcome.method)"
        object["vectors"] = outcome.vectors
        object["unknown_queries"] = outcome.unknownQueries
        object["unknown_documents"] = outcome.unknownDocuments
        object["unjudged_queries"] = outcome.unjudgedQueries
        object["serving"] =
            ["mode": outcome.serving.mode.rawValue, "model": outcome.serving.model.name] as [String: Any]
        object["embedded_on_demand"] = outcome.embeddedOnDemand
        object["embedded_by_workers"] = outcome.embeddedByWorkers
        func latency(_ summary: LatencySummary) -> [String: Any] {
            ["p50": summary.p50, "p99": summary.p99, "mean": summary.mean]
        }
        object["latency_ms"] =
            [
                "search": latency(outcome.searchLatency), "embedding": latency(outcome.embeddingLatency),
                "total": latency(outcome.totalLatency), "embedding_batch_size": batchSize,
            ] as [String: Any]
        if let overlap = outcome.overlapWithExact { object["overlap_with_exact@10"] = overlap }
        if let exact = outcome.exactEvaluation { object["exact"] = exact.means }
        if perQuery {
            object["per_query"] = outcome.evaluation.perQuery.map {
                ["query": $0.query, "metrics": $0.metrics] as [String: Any]
            }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private func writeRun(_ run: [String: [ScoredDocument]], to path: String) throws {
        var text = ""
        for query in run.keys.sorted() {
            for (rank, document) in run[query]!.sorted(by: ScoredDocument.trecOrder).enumerated() {
                text += "\(query) Q0 \(document.id) \(rank + 1) \(String(format: "%.17g", document.score)) driftless\n"
            }
        }
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw fail("cannot write the run file \(path): \(error.localizedDescription)")
        }
    }
}
