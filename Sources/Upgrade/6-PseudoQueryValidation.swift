import Compat
import Retrieval
import Search
import Store

/// Validation without labels, among the held-out documents: inverse-cloze pseudo-queries, a
/// sentence taken out of a held-out document, whose one relevant document is the rest of it
/// (embedded by the old model, it stands in for that document's stored vector). MRR@10 scores each
/// method and each fuse weight, and the old model on its own vectors beside them, so the change an
/// upgrade would make is predicted before it is made (``UpgradePrediction``).
///
/// Tried and dropped: titles, which every method and weight finds (MRR 0.98–0.99), so they choose
/// nothing; agreement with the new model's own top 10, which chose fuse weights that lost 0.03
/// nDCG@10 on SciFact; agreement with both models' joint top 10, which chose 0.4: 0.998× the old model.
struct PseudoQueryValidation {
    let queries: [InverseClozeQueries.Query]
    /// Each pseudo-query's context (its document without it) by the old model, and the pseudo-query by each model.
    let contexts: [[Float]]
    let pseudoNew: [[Float]]
    let pseudoOld: [[Float]]
    let heldOut: [String]
    let old: [String: [Float]]
    let new: [String: [Float]]
    let seed: UInt64
    /// The old model's reciprocal ranks on its own vectors: what every prediction is paired with.
    private(set) var oldRanks: [Double] = []

    /// At most 400 pseudo-queries, cut (seeded) from the held-out documents.
    init(
        _ pairs: FittingPairs,
        encoders: (old: any TextEncoding, new: any TextEncoding),
        seed: UInt64
    ) throws(SearchError) {
        queries = Array(
            InverseClozeQueries.make(
                pairs.heldOut.compactMap { id in pairs.texts[id].map { (id, $0.title, $0.body) } },
                seed: seed
            ).prefix(400)
        )
        contexts = try encoders.old.embedDocuments(queries.map(\.context))
        pseudoNew = try encoders.new.embed(queries.map(\.text))
        pseudoOld = try encoders.old.embed(queries.map(\.text))
        (heldOut, old, new, self.seed) = (pairs.heldOut, pairs.old, pairs.new, seed)
        oldRanks = reciprocalRanks(pseudoOld)
    }

    /// The held-out documents by score for one pseudo-query: `vectors` stand for them, `context` for its own.
    private func ranked(
        _ query: [Float],
        _ ids: [String],
        _ vectors: [String: [Float]],
        own: String,
        context: [Float]
    ) -> [String] {
        ids.map { id in
            ScoredDocument(id: id, score: Double(IndexSearcher.dot(query, id == own ? context : vectors[id] ?? [])))
        }.sorted(by: ScoredDocument.trecOrder).map(\.id)
    }

    /// Each pseudo-query's reciprocal rank (top 10) of the rest of its document among the held-out old vectors.
    func reciprocalRanks(_ vectors: [[Float]]) -> [Double] {
        zip(vectors, zip(queries, contexts)).map { query, target in
            let (pseudo, context) = target
            let ranking = ranked(query, heldOut, old, own: pseudo.documentId, context: context).prefix(10)
            return RankingMetrics.reciprocalRank(at: 10, ranking: Array(ranking), judgments: [pseudo.documentId: 1])
        }
    }

    /// The mean of ``reciprocalRanks(_:)``: MRR@10.
    func meanReciprocalRank(_ vectors: [[Float]]) -> Double {
        let ranks = reciprocalRanks(vectors)
        return ranks.reduce(0, +) / Double(max(ranks.count, 1))
    }

    /// The new-model pseudo-queries through `projection`.
    func projected(_ projection: Projection) throws(SearchError) -> [[Float]] {
        var projected: [[Float]] = []
        do { for vector in pseudoNew { projected.append(try projection.apply(vector)) } } catch {
            throw .projection(error)
        }
        return projected
    }

    /// Projected pseudo-queries blended with the old model's.
    func fused(_ projected: [[Float]], _ weight: Double) -> [[Float]] {
        zip(projected, pseudoOld).map { IndexSearcher.fused($0, $1, weight: weight) }
    }

    /// MRR@10 at each fuse weight 0.0 … 1.0, and the best; on a tie the smaller (more of the old
    /// model's own query, which matches the stored vectors).
    func fuseCurve(_ projected: [[Float]]) -> (scores: [(weight: Double, score: Double)], best: Double) {
        let scores = (0...10).map { step in
            (Double(step) / 10, meanReciprocalRank(fused(projected, Double(step) / 10)))
        }
        let best = scores.max { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 > $1.0) }!
        return (scores.map { (weight: $0.0, score: $0.1) }, best.0)
    }

    /// What serving `mode` is predicted to change against the old model on the same pseudo-queries;
    /// when that is a loss, the other modes' predictions (fuse at its best weight, re-scoring the old
    /// model's top 20 with new-model vectors), best first.
    func predictions(
        mode: ServingState.Mode,
        projection: Projection,
        projected: [[Float]],
        fuseWeight: Double?,
        newEncoder: any TextEncoding
    ) throws(SearchError) -> (prediction: UpgradePrediction, alternatives: [UpgradePrediction]) {
        func predict(_ mode: ServingState.Mode, _ serving: String, _ ranks: [Double]) -> UpgradePrediction {
            UpgradePrediction(mode: mode, serving: serving, new: ranks, old: oldRanks, seed: seed)
        }
        let prediction =
            mode == .fuse
            ? predict(
                .fuse,
                "fuse \(fuseWeight ?? ServingState.defaultFuseWeight)",
                reciprocalRanks(fused(projected, fuseWeight ?? ServingState.defaultFuseWeight))
            )
            : predict(.project, "project (\(projection.method))", reciprocalRanks(projected))
        guard prediction.isLoss else { return (prediction, []) }
        var alternatives: [UpgradePrediction] = []
        if mode != .fuse {
            let best = fuseCurve(projected).best
            alternatives.append(predict(.fuse, "fuse \(best)", reciprocalRanks(fused(projected, best))))
        }
        // The held-out documents' new vectors come from the sample; each pseudo-query's own context
        // is embedded by the new model.
        let newContexts = try newEncoder.embedDocuments(queries.map(\.context))
        let rescored = queries.indices.map { i in
            let own = queries[i].documentId
            let head = Array(ranked(pseudoOld[i], heldOut, old, own: own, context: contexts[i]).prefix(20))
            let ranking = ranked(pseudoNew[i], head, new, own: own, context: newContexts[i]).prefix(10)
            return RankingMetrics.reciprocalRank(at: 10, ranking: Array(ranking), judgments: [own: 1])
        }
        alternatives.append(predict(.rescore, "rescore top 20", rescored))
        alternatives.sort { $0.change > $1.change }
        return (prediction, alternatives)
    }
}
