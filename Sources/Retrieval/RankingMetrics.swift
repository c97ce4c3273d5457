import Foundation

/// Per-query ranking metrics with trec_eval's definitions (as pytrec_eval and BEIR compute
/// them). `ranking` must already be in trec order (see ``ScoredDocument/trecOrder(_:_:)``);
/// `judgments` are the query's qrels. A document is relevant when its relevance is ≥ 1;
/// unjudged documents count as not relevant.
public enum RankingMetrics {
    /// nDCG@k (trec_eval `ndcg_cut.k`): gain = the relevance grade, discount 1/log2(rank + 1),
    /// normalised by the ideal ranking of all judged documents. 0 when nothing is relevant.
    public static func ndcg(at k: Int, ranking: [String], judgments: [String: Int]) -> Double {
        var dcg = 0.0
        for (rank, document) in ranking.prefix(k).enumerated() {
            let gain = judgments[document] ?? 0
            if gain > 0 { dcg += Double(gain) / log2(Double(rank + 2)) }
        }
        let ideal = judgments.values.filter { $0 > 0 }.sorted(by: >).prefix(k)
        var idcg = 0.0
        for (rank, gain) in ideal.enumerated() { idcg += Double(gain) / log2(Double(rank + 2)) }
        return idcg > 0 ? dcg / idcg : 0
    }

    /// Recall@k (trec_eval `recall_k`): relevant documents in the top k over all relevant ones.
    public static func recall(at k: Int, ranking: [String], judgments: [String: Int]) -> Double {
        let relevant = relevantCount(judgments)
        guard relevant > 0 else { return 0 }
        return Double(ranking.prefix(k).filter { (judgments[$0] ?? 0) > 0 }.count) / Double(relevant)
    }

    /// MRR@k (BEIR's `mrr@k`): 1 / rank of the first relevant document in the top k, else 0.
    public static func reciprocalRank(at k: Int, ranking: [String], judgments: [String: Int]) -> Double {
        guard let rank = ranking.prefix(k).firstIndex(where: { (judgments[$0] ?? 0) > 0 }) else { return 0 }
        return 1 / Double(rank + 1)
    }

    /// mAP@k (trec_eval `map_cut.k`): the precision at each relevant document's rank within the
    /// top k, summed and divided by the number of relevant documents (retrieved or not).
    public static func averagePrecision(at k: Int, ranking: [String], judgments: [String: Int]) -> Double {
        let relevant = relevantCount(judgments)
        guard relevant > 0 else { return 0 }
        var found = 0
        var sum = 0.0
        for (rank, document) in ranking.prefix(k).enumerated() where (judgments[document] ?? 0) > 0 {
            found += 1
            sum += Double(found) / Double(rank + 1)
        }
        return sum / Double(relevant)
    }

    static func relevantCount(_ judgments: [String: Int]) -> Int { judgments.values.filter { $0 > 0 }.count }
}
