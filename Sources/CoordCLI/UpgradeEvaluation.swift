import Foundation
import Search
import Store

/// `coord upgrade --eval QUERIES QRELS`: after the switch, the old model on its own vectors,
/// the new serving mode, and (when the successor index holds every document) the new model on
/// its native vectors, on the same qrels, exact search, as one table.
struct UpgradeEvaluation {
    let database: DatabaseOptions
    let client: ClientOptions
    let modelsFolder: String
    let threads: Int
    let queries: String
    let qrels: String

    struct Row {
        var label: String
        var ndcg: Double
        var recall: Double
        var p50: Double
    }

    func run(index: IndexRecord, upgraded: ServingState, successor: IndexRecord) throws {
        var rows: [Row] = []
        func evaluate(_ label: String, index name: String, serving: ServingState?) throws {
            let searcher = try IndexSearcher(
                try database.connect(),
                index: name,
                modelsFolder: modelsFolder,
                threads: threads,
                serving: serving
            )
            searcher.onDemand = WorkerEmbedding(client: client)
            var options = IndexEvaluation.Options()
            options.method = .exact
            FileHandle.standardError.write(Data("evaluating \(label)…\n".utf8))
            let outcome = try IndexEvaluation(searcher: searcher, options: options).run(
                queriesPath: queries,
                qrelsPath: qrels
            )
            rows.append(
                Row(
                    label: label,
                    ndcg: outcome.evaluation.means["ndcg@10"] ?? 0,
                    recall: outcome.evaluation.means["recall@100"] ?? 0,
                    p50: outcome.totalLatency.p50
                )
            )
        }
        try evaluate(
            "\(index.model.name), native (old vectors)",
            index: index.name,
            serving: ServingState(mode: .native, model: index.model)
        )
        let method = upgraded.projectionId == nil ? "" : " through projection \(upgraded.projectionId!)"
        try evaluate("\(upgraded.model.name), \(upgraded.mode)\(method)", index: index.name, serving: nil)
        let connection = try database.connect()
        let vectors = VectorSearch(connection)
        let complete = try vectors.vectorCount(successor) >= vectors.vectorCount(index)
        if complete {
            try evaluate(
                "\(upgraded.model.name), native (\(successor.name))",
                index: successor.name,
                serving: ServingState(mode: .native, model: successor.model)
            )
        }
        let old = rows[0].ndcg
        let native = complete ? rows.last!.ndcg : nil
        print("evaluation on \(qrels) (exact search; latency per query, embedding included):")
        let width = max(rows.map(\.label.count).max() ?? 0, 7) + 2
        print(
            "  " + "serving".padding(toLength: width, withPad: " ", startingAt: 0)
                + "nDCG@10  Recall@100  × old   × new native  p50 ms"
        )
        for row in rows {
            let times = native.map { String(format: "%.3f", row.ndcg / $0) } ?? "  –  "
            print(
                "  " + row.label.padding(toLength: width, withPad: " ", startingAt: 0)
                    + String(
                        format: "%.4f   %.4f      %.3f   %@         %.1f",
                        row.ndcg,
                        row.recall,
                        row.ndcg / old,
                        times,
                        row.p50
                    )
            )
        }
        if !complete {
            print(
                "  (the new model on native vectors: after `coord reindex --index \(index.name) --to \(upgraded.model.name)`)"
            )
        }
    }
}
