/// A run (ranked results per query) scored against relevance judgments.
///
/// As in trec_eval and BEIR, the queries evaluated are those that have both results and
/// judgments; each metric is the mean over them. Results are re-ranked in trec order first.
public struct RetrievalEvaluation: Sendable {
    public struct QueryScores: Sendable, Codable {
        public var query: String
        public var metrics: [String: Double]
    }

    public let cutoffs: [Int]
    /// Metric name (`"ndcg@10"`, `"recall@100"`, `"mrr@10"`, `"map@100"`) → mean over queries.
    public private(set) var means: [String: Double] = [:]
    public private(set) var perQuery: [QueryScores] = []
    /// Queries with results but no judgments (not evaluated).
    public private(set) var unjudgedQueries: [String] = []

    public var queries: Int { perQuery.count }

    /// Metric names in the order they are reported: each family at every cutoff.
    public var metricNames: [String] {
        ["ndcg", "recall", "mrr", "map"].flatMap { family in cutoffs.map { "\(family)@\($0)" } }
    }

    public init(
        run: [String: [ScoredDocument]],
        judgments: RelevanceJudgments,
        cutoffs: [Int] = [10, 100]
    ) throws(RetrievalError) {
        if let bad = cutoffs.first(where: { $0 < 1 }) { throw .invalidCutoff(bad) }
        self.cutoffs = Array(Set(cutoffs)).sorted()
        var sums: [String: Double] = [:]
        for query in run.keys.sorted() {
            guard let judged = judgments[query] else {
                unjudgedQueries.append(query)
                continue
            }
            let ranking = run[query]!.sorted(by: ScoredDocument.trecOrder).map(\.id)
            var metrics: [String: Double] = [:]
            for k in self.cutoffs {
                metrics["ndcg@\(k)"] = RankingMetrics.ndcg(at: k, ranking: ranking, judgments: judged)
                metrics["recall@\(k)"] = RankingMetrics.recall(at: k, ranking: ranking, judgments: judged)
                metrics["mrr@\(k)"] = RankingMetrics.reciprocalRank(at: k, ranking: ranking, judgments: judged)
                metrics["map@\(k)"] = RankingMetrics.averagePrecision(at: k, ranking: ranking, judgments: judged)
            }
            for (name, value) in metrics { sums[name, default: 0] += value }
            perQuery.append(QueryScores(query: query, metrics: metrics))
        }
        let count = Double(max(perQuery.count, 1))
        for name in metricNames { means[name] = (sums[name] ?? 0) / count }
    }
}
