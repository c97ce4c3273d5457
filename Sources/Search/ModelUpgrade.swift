import Compat
import Foundation
import PostgresClient
import Retrieval
import Store

/// `coord upgrade`: moves an index to a new model without re-embedding its corpus.
///
/// 1. ``sample(size:seed:)`` picks documents of the index (seeded);
/// 2. the caller has the workers embed those without a new-model vector into the
///    successor index (a job like any other: ``successorName``);
/// 3. ``fit(method:queries:)`` pairs old and new vectors (plus query pairs, if given) and
///    fits the projection, scoring methods on pseudo-queries (sentences taken out of held-out
///    sampled documents, each relevant to the rest of its document: the inverse cloze task)
///    when asked for `auto`;
/// 4. ``switchServing(_:)`` makes the new serving state current, atomically.
public final class ModelUpgrade {
    public let index: IndexRecord
    public let model: ModelRecord
    public let current: ServingState
    let connection: PostgresConnection
    let vectors: VectorSearch
    let modelsFolder: String
    let threads: Int

    /// What fitting found, for the report.
    public struct Fit: Sendable {
        public var projection: Projection
        public var projectionId: Int64
        public var documentPairs: Int
        public var queryPairs: Int
        /// Method → score: MRR@10 of the pseudo-queries (inverse cloze) through each method's projection.
        public var scores: [(method: ProjectionMethod, score: Double)]
        public var pseudoQueries: Int
        /// The same pseudo-queries with the old model on the old vectors, for scale.
        public var oldModelScore: Double
        /// fuse: the weight chosen, and the pseudo-queries' MRR@10 at each weight tried.
        public var fuseWeight: Double?
        public var fuseScores: [(weight: Double, score: Double)]
        /// The change the chosen serving is predicted to make against the old model.
        public var prediction: UpgradePrediction
        /// When that is a loss: the other modes' predictions (fuse at its best weight, rescore), best first.
        public var alternatives: [UpgradePrediction]
    }

    public init(
        url: String,
        index indexName: String,
        to modelName: String,
        modelsFolder: String,
        threads: Int = 2
    ) throws(SearchError) {
        let connection = try SearchError.connect(url)
        self.connection = connection
        let catalog = Catalog(connection)
        (index, model, current) = try SearchError.mapping {
            let index = try catalog.existingIndex(named: indexName)
            guard let model = try catalog.model(named: modelName) else {
                throw StoreError.unknownModel(modelName, known: try catalog.models().map(\.name))
            }
            return (index, model, try ServingStore(connection).current(index))
        }
        vectors = VectorSearch(connection)
        self.modelsFolder = modelsFolder
        self.threads = threads
    }

    /// The index that holds the new model's vectors of the same collection.
    public var successorName: String { "\(index.name)@\(model.name)" }

    /// Creates the successor index (its table) if needed.
    public func successor() throws(SearchError) -> IndexRecord {
        do { return try Catalog(connection).index(named: successorName, model: model.name, succeeding: index) } catch {
            throw .store(error)
        }
    }

    /// The ids of `size` documents of the index, chosen by a seeded hash of their ids (the same seed
    /// gives the same sample).
    public func sample(size: Int, seed: Int) throws(SearchError) -> [String] {
        let rows: PostgresRows
        do {
            let total = try vectors.vectorCount(index)
            guard size >= 4 else {
                throw StoreError.invalid("--sample \(size) is too small: a fit needs at least 4 documents")
            }
            guard size <= total else {
                throw StoreError.invalid("--sample \(size) is larger than index \(index.name) (\(total) documents)")
            }
            rows = try connection.execute(
                """
                SELECT d.doc_id FROM documents d JOIN \(index.vectorTable) v ON v.doc_id = d.doc_id
                WHERE d.collection_id = $1 AND NOT d.deleted ORDER BY md5(d.doc_id || ':' || $2), d.doc_id LIMIT $3
                """,
                [String(index.collectionId), String(seed), String(size)]
            )
        } catch let error as StoreError {
            throw .store(error)
        } catch let error as PostgresError {
            throw .store(.database(error, during: "sampling index \(index.name)"))
        } catch {
            throw .store(.invalid("\(error)"))
        }
        return (0..<rows.count).map { rows.value($0, "doc_id")! }
    }

    /// Those of `ids` the successor index has no vector of the current version for.
    public func missing(_ ids: [String]) throws(SearchError) -> [String] {
        let successor = try successor()
        do { return try vectors.lacking(index, ids: ids, in: successor) } catch {
            throw .store(error)
        }
    }

    /// Fits the projection from pairs of the sampled documents (and of `queries`, embedded
    /// by both models), stores it, and (for `fuse`) chooses the blend weight.
    public func fit(
        sample ids: [String],
        method: ProjectionMethod?,
        queries: [String] = [],
        options: ProjectionFitter.Options = .init(),
        fuse: Bool = false,
        fuseWeight chosenWeight: Double? = nil
    ) throws(SearchError) -> Fit {
        let successor = try successor()
        let old: [String: [Float]]
        let new: [String: [Float]]
        let texts: [String: (title: String, body: String)]
        do {
            old = try vectors.vectors(index, ids: ids)
            new = try vectors.vectors(successor, ids: ids)
            let rows = try connection.execute(
                "SELECT doc_id, title, body FROM documents WHERE collection_id = $1 AND doc_id = ANY($2::text[])",
                [String(index.collectionId), CopyText.textArray(ids)]
            )
            texts = Dictionary(
                uniqueKeysWithValues: (0..<rows.count).map {
                    (rows.value($0, "doc_id")!, (rows.value($0, "title") ?? "", rows.value($0, "body") ?? ""))
                }
            )
        } catch let error as StoreError {
            throw .store(error)
        } catch {
            throw .store(.invalid("\(error)"))
        }
        let paired = ids.filter { old[$0] != nil && new[$0] != nil }
        var newSide = paired.map { new[$0]! }
        var oldSide = paired.map { old[$0]! }
        let oldEncoder = try QueryEncoder(for: index.model, modelsFolder: modelsFolder, threads: threads)
        let newEncoder = try QueryEncoder(for: model, modelsFolder: modelsFolder, threads: threads)
        // Query pairs join the fit.
        // Query pairs join the fit.
        let fittingQueries = queries
        if !fittingQueries.isEmpty {
            newSide += try newEncoder.embed(fittingQueries)
            oldSide += try oldEncoder.embed(fittingQueries)
        }
        // Validation must not see the documents a projection was fitted on (it would favour the
        // projection): a seeded fifth of the sample is held out, methods and weights are chosen with
        // projections fitted on the rest, and the choice is fitted again on every pair.
        var shuffled = paired
        var generator = SplitMix64(seed: options.seed ^ 0x5EED)
        shuffled.shuffle(using: &generator)
        let heldOut = Array(shuffled.prefix(max(1, shuffled.count / 5)))
        let heldOutSet = Set(heldOut)
        let fitted = paired.enumerated().filter { !heldOutSet.contains($0.element) }.map(\.offset)
        let fitter: ProjectionFitter
        let finalFitter: ProjectionFitter
        do {
            let extra = newSide.count - paired.count  // query pairs, after the documents
            let rows = fitted + (0..<extra).map { paired.count + $0 }
            fitter = try ProjectionFitter(
                new: rows.map { newSide[$0] },
                old: rows.map { oldSide[$0] },
                options: options
            )
            finalFitter = try ProjectionFitter(new: newSide, old: oldSide, options: options)
        } catch { throw .projection(error) }

        // Validation without labels, among the held-out documents: inverse-cloze pseudo-queries, a sentence
        // taken out of a held-out document, whose one relevant document is the rest of it (embedded by the old
        // model, it stands in for that document's stored vector). MRR@10 scores each method and each fuse
        // weight. (Tried and dropped: titles, which every method and weight finds, MRR 0.98–0.99, so they
        // choose nothing; agreement with the new model's own top 10, which chose fuse weights that lost 0.03
        // nDCG@10 on SciFact; agreement with both models' joint top 10, which chose 0.4: 0.998× the old model.)
        let validation = Array(
            InverseClozeQueries.make(
                heldOut.compactMap { id in texts[id].map { (id, $0.title, $0.body) } },
                seed: options.seed
            ).prefix(400)
        )
        let contexts = try oldEncoder.embedDocuments(validation.map(\.context))
        let pseudoNew = try newEncoder.embed(validation.map(\.text))
        let pseudoOld = try oldEncoder.embed(validation.map(\.text))
        /// The held-out documents by score for one pseudo-query: `vectors` stand for them, `context` for its own.
        func ranked(
            _ query: [Float],
            _ ids: [String],
            _ vectors: [String: [Float]],
            own: String,
            context: [Float]
        )
            -> [String]
        {
            ids.map { id in
                ScoredDocument(id: id, score: Double(IndexSearcher.dot(query, id == own ? context : vectors[id] ?? [])))
            }.sorted(by: ScoredDocument.trecOrder).map(\.id)
        }
        /// Each pseudo-query's reciprocal rank (top 10) of the rest of its document among the held-out old vectors.
        func reciprocalRanks(_ queries: [[Float]]) -> [Double] {
            zip(queries, zip(validation, contexts)).map { query, target in
                let (pseudo, context) = target
                let ranking = ranked(query, heldOut, old, own: pseudo.documentId, context: context).prefix(10)
                return RankingMetrics.reciprocalRank(at: 10, ranking: Array(ranking), judgments: [pseudo.documentId: 1])
            }
        }
        func reciprocalRank(_ queries: [[Float]]) -> Double {
            let ranks = reciprocalRanks(queries)
            return ranks.reduce(0, +) / Double(max(ranks.count, 1))
        }
        let score: (ProjectionMethod, Projection) throws -> Double = { _, projection in
            reciprocalRank(try pseudoNew.map { try projection.apply($0) })
        }
        var projection: Projection
        var scores: [(method: ProjectionMethod, score: Double)]
        do {
            if let method {
                projection = try fitter.fit(method)
                scores = [(method, try score(method, projection))]
            } else {
                (projection, scores) = try fitter.auto(score: score)
            }
        } catch let error as CompatError {
            throw .projection(error)
        } catch {
            throw .projection(.numerical("\(error)"))
        }
        let validated = projection
        do {
            let details = projection.details
            projection = try finalFitter.fit(projection.method)
            for (key, value) in details where key.hasPrefix("auto_score_") { projection.details[key] = value }
        } catch { throw .projection(error) }
        // The pseudo-queries through the validated projection, and blended with the old model's query.
        var projected: [[Float]] = []
        do { for vector in pseudoNew { projected.append(try validated.apply(vector)) } } catch {
            throw .projection(error)
        }
        func fused(_ weight: Double) -> [[Float]] {
            zip(projected, pseudoOld).map { IndexSearcher.fused($0, $1, weight: weight) }
        }
        /// MRR@10 at each fuse weight 0.0 … 1.0, and the best; on a tie the smaller (more of the old
        /// model's own query, which matches the stored vectors).
        func fuseCurve() -> (scores: [(weight: Double, score: Double)], best: Double) {
            let scores = (0...10).map { step in (Double(step) / 10, reciprocalRank(fused(Double(step) / 10))) }
            let best = scores.max { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 > $1.0) }!
            return (scores.map { (weight: $0.0, score: $0.1) }, best.0)
        }
        var fuseWeight: Double?
        var fuseScores: [(weight: Double, score: Double)] = []
        if fuse {
            let curve = fuseCurve()
            fuseScores = curve.scores
            fuseWeight = chosenWeight ?? curve.best
        }
        // The prediction against the old model, on the same pseudo-queries, for what will serve.
        let oldRanks = reciprocalRanks(pseudoOld)
        let prediction =
            fuse
            ? UpgradePrediction(
                mode: .fuse,
                serving: "fuse \(fuseWeight ?? 0.5)",
                new: reciprocalRanks(fused(fuseWeight ?? 0.5)),
                old: oldRanks,
                seed: options.seed
            )
            : UpgradePrediction(
                mode: .project,
                serving: "project (\(validated.method))",
                new: reciprocalRanks(projected),
                old: oldRanks,
                seed: options.seed
            )
        var alternatives: [UpgradePrediction] = []
        if prediction.isLoss {
            // What would serve better: fuse at its best weight, and re-scoring the old model's top 20 with
            // new-model vectors (the held-out documents' from the sample; each pseudo-query's own context
            // embedded by the new model).
            if !fuse {
                let best = fuseCurve().best
                alternatives.append(
                    UpgradePrediction(
                        mode: .fuse,
                        serving: "fuse \(best)",
                        new: reciprocalRanks(fused(best)),
                        old: oldRanks,
                        seed: options.seed
                    )
                )
            }
            let newContexts = try newEncoder.embedDocuments(validation.map(\.context))
            let rescored = validation.indices.map { i in
                let own = validation[i].documentId
                let head = Array(ranked(pseudoOld[i], heldOut, old, own: own, context: contexts[i]).prefix(20))
                let ranking = ranked(pseudoNew[i], head, new, own: own, context: newContexts[i]).prefix(10)
                return RankingMetrics.reciprocalRank(at: 10, ranking: Array(ranking), judgments: [own: 1])
            }
            alternatives.append(
                UpgradePrediction(
                    mode: .rescore,
                    serving: "rescore top 20",
                    new: rescored,
                    old: oldRanks,
                    seed: options.seed
                )
            )
            alternatives.sort { $0.change > $1.change }
        }
        projection.details["predicted_change"] = prediction.change
        projection.details["validation_score"] = scores.first { $0.method == projection.method }?.score
        let details =
            (try? JSONSerialization.data(withJSONObject: projection.details, options: [.sortedKeys])).map {
                String(decoding: $0, as: UTF8.self)
            } ?? "{}"
        let id: Int64
        do {
            id = try ServingStore(connection).saveProjection(
                index: index,
                from: model,
                method: projection.method.rawValue,
                pairs: newSide.count,
                data: projection.encoded(),
                details: details
            )
        } catch { throw .store(error) }
        return Fit(
            projection: projection,
            projectionId: id,
            documentPairs: paired.count,
            queryPairs: fittingQueries.count,
            scores: scores,
            pseudoQueries: validation.count,
            oldModelScore: oldRanks.reduce(0, +) / Double(max(oldRanks.count, 1)),
            fuseWeight: fuseWeight,
            fuseScores: fuseScores,
            prediction: prediction,
            alternatives: alternatives
        )
    }

    /// Makes `state` current for the index, atomically.
    public func switchServing(_ state: ServingState) throws(SearchError) {
        do { try ServingStore(connection).switchTo(state, index: index, expecting: current) } catch {
            throw .store(error)
        }
    }

    /// Restores the serving state before the current one.
    public func rollback() throws(SearchError) -> ServingState {
        do { return try ServingStore(connection).rollback(index) } catch { throw .store(error) }
    }

}
