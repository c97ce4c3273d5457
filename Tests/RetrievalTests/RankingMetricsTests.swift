import Retrieval
import Testing

/// Hand-computed cases (trec_eval definitions); the comments show the arithmetic.
@Suite("RankingMetrics")
struct RankingMetricsTests {
    @Test("nDCG uses the relevance grade as gain and the ideal order of all judged documents")
    func gradedNDCG() {
        // DCG = 2/log2(3) + 1/log2(5) (c is judged 0, x unjudged); IDCG = 2/log2(2) + 1/log2(3).
        let value = RankingMetrics.ndcg(at: 10, ranking: ["c", "a", "x", "b"], judgments: ["a": 2, "b": 1, "c": 0])
        #expect(abs(value - 0.6433224083306327) < 1e-12)
        // At cutoff 1 only c (gain 0) counts.
        #expect(RankingMetrics.ndcg(at: 1, ranking: ["c", "a", "x", "b"], judgments: ["a": 2, "b": 1, "c": 0]) == 0)
        // The ideal is cut at k too: one relevant doc at rank 1 of a query with two is perfect at k = 1.
        #expect(RankingMetrics.ndcg(at: 1, ranking: ["a"], judgments: ["a": 1, "b": 1]) == 1)
    }

    @Test("a query with no relevant documents scores 0 on every metric")
    func noRelevantDocuments() {
        let judgments = ["a": 0, "b": 0]
        #expect(RankingMetrics.ndcg(at: 10, ranking: ["a", "b"], judgments: judgments) == 0)
        #expect(RankingMetrics.recall(at: 10, ranking: ["a", "b"], judgments: judgments) == 0)
        #expect(RankingMetrics.reciprocalRank(at: 10, ranking: ["a", "b"], judgments: judgments) == 0)
        #expect(RankingMetrics.averagePrecision(at: 10, ranking: ["a", "b"], judgments: judgments) == 0)
    }

    @Test("fewer results than k: missing ranks count as not relevant")
    func fewerResultsThanK() {
        let judgments = ["a": 1, "b": 1]
        #expect(RankingMetrics.recall(at: 10, ranking: ["a"], judgments: judgments) == 0.5)
        #expect(RankingMetrics.averagePrecision(at: 10, ranking: ["a"], judgments: judgments) == 0.5)  // (1/1) / 2
        // 1 / (1 + 1/log2(3))
        #expect(abs(RankingMetrics.ndcg(at: 10, ranking: ["a"], judgments: judgments) - 0.6131471927654584) < 1e-12)
        #expect(RankingMetrics.reciprocalRank(at: 10, ranking: [], judgments: judgments) == 0)
    }

    @Test("average precision divides by every relevant document, retrieved or not, and respects the cutoff")
    func averagePrecision() {
        let ranking = ["a", "x", "b", "y", "c"]
        let judgments = ["a": 1, "b": 1, "c": 1, "d": 1]
        // (1/1 + 2/3 + 3/5) / 4
        #expect(
            abs(RankingMetrics.averagePrecision(at: 100, ranking: ranking, judgments: judgments) - 0.5666666666666667)
                < 1e-12
        )
        #expect(RankingMetrics.averagePrecision(at: 2, ranking: ranking, judgments: judgments) == 0.25)
        #expect(RankingMetrics.recall(at: 2, ranking: ranking, judgments: judgments) == 0.25)
        #expect(RankingMetrics.recall(at: 5, ranking: ranking, judgments: judgments) == 0.75)
        // (1 + 1/log2(4) + 1/log2(6)) / (1 + 1/log2(3) + 1/log2(4) + 1/log2(5))
        #expect(abs(RankingMetrics.ndcg(at: 10, ranking: ranking, judgments: judgments) - 0.7365896932159578) < 1e-12)
    }

    @Test("reciprocal rank of the first relevant document within the cutoff")
    func reciprocalRank() {
        let judgments = ["b": 1, "c": 2]
        #expect(RankingMetrics.reciprocalRank(at: 10, ranking: ["a", "b", "c"], judgments: judgments) == 0.5)
        #expect(RankingMetrics.reciprocalRank(at: 1, ranking: ["a", "b", "c"], judgments: judgments) == 0)
    }
}

@Suite("RetrievalEvaluation")
struct RetrievalEvaluationTests {
    @Test("re-ranks by score, ties by document id descending as trec_eval does")
    func trecOrder() throws {
        // Given in the order d1, d2 with equal scores: trec_eval ranks d2 first, so d1 is at rank 2.
        let run = ["q": [ScoredDocument(id: "d1", score: 0.5), ScoredDocument(id: "d2", score: 0.5)]]
        let evaluation = try RetrievalEvaluation(
            run: run,
            judgments: RelevanceJudgments(["q": ["d1": 1]]),
            cutoffs: [10]
        )
        #expect(evaluation.means["mrr@10"] == 0.5)
        // A higher score wins over the id.
        let scored = ["q": [ScoredDocument(id: "d2", score: 0.4), ScoredDocument(id: "d1", score: 0.5)]]
        #expect(
            try RetrievalEvaluation(run: scored, judgments: RelevanceJudgments(["q": ["d1": 1]]), cutoffs: [10]).means[
                "mrr@10"
            ] == 1
        )
    }

    @Test("means are over queries with results and judgments; unjudged queries are listed, not counted")
    func means() throws {
        let run = [
            "q1": [ScoredDocument(id: "a", score: 0.9)],
            "q2": [ScoredDocument(id: "x", score: 0.9)],
            "q3": [ScoredDocument(id: "a", score: 0.9)],
        ]
        let judgments = RelevanceJudgments(["q1": ["a": 1], "q2": ["b": 1], "q4": ["a": 1]])
        let evaluation = try RetrievalEvaluation(run: run, judgments: judgments, cutoffs: [100, 10, 10])
        #expect(evaluation.queries == 2)
        #expect(evaluation.unjudgedQueries == ["q3"])
        #expect(evaluation.cutoffs == [10, 100])
        #expect(evaluation.means["ndcg@10"] == 0.5)
        #expect(evaluation.means["recall@100"] == 0.5)
        #expect(
            evaluation.metricNames == [
                "ndcg@10", "ndcg@100", "recall@10", "recall@100", "mrr@10", "mrr@100", "map@10", "map@100",
            ]
        )
    }

    @Test("a cutoff below 1 is refused")
    func badCutoff() {
        #expect(throws: RetrievalError.invalidCutoff(0)) {
            try RetrievalEvaluation(run: [:], judgments: RelevanceJudgments(), cutoffs: [10, 0])
        }
    }
}
