import Compat
import Foundation
import PostgresClient
import Retrieval
import Search
import Store

/// One index moving to a new model without re-embedding its corpus: the index, the model, the
/// serving state the upgrade starts from, and the successor index (`INDEX@MODEL`) that holds the
/// new model's vectors. ``fit(_:plan:)`` runs steps 4–6 on a sample; ``switchServing(_:)`` makes
/// a serving state current, refused if the index changed since this was made.
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
        _ connection: PostgresConnection,
        index indexName: String,
        to modelName: String,
        modelsFolder: String,
        threads: Int = 2
    ) throws(SearchError) {
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
    public var successorName: String { ServingState.successorName(of: index.name, model: model.name) }

    /// Creates the successor index (its table) if needed.
    public func successor() throws(SearchError) -> IndexRecord {
        do { return try Catalog(connection).index(named: successorName, model: model.name, succeeding: index) } catch {
            throw .store(error)
        }
    }

    /// The fit as one pipeline: the pairs (4), the pseudo-queries (6), the projection chosen on
    /// them (5), the fuse weight, the prediction against the old model, and the projection stored.
    /// The sample must be embedded into the successor already (2, 3).
    public func fit(_ sample: UpgradeSample, plan: UpgradePlan) throws(SearchError) -> Fit {
        let successor = try successor()
        let options = plan.fitOptions
        let encoders: (old: any TextEncoding, new: any TextEncoding) = (
            old: try QueryEncoder(for: index.model, modelsFolder: modelsFolder, threads: threads),
            new: try QueryEncoder(for: model, modelsFolder: modelsFolder, threads: threads)
        )
        let pairs = try FittingPairs(
            sample: sample.ids,
            of: index,
            successor: successor,
            queries: plan.queries,
            encoders: encoders,
            vectors: vectors,
            seed: options.seed
        )
        let validation = try PseudoQueryValidation(pairs, encoders: encoders, seed: options.seed)
        let projection = try ProjectionChoice(pairs, method: plan.method, options: options) { projection in
            validation.meanReciprocalRank(try validation.projected(projection))
        }
        let projected = try validation.projected(projection.validated)
        let fuse = plan.mode == .fuse
        let curve = fuse ? validation.fuseCurve(projected) : nil
        let fuseWeight = fuse ? plan.fuseWeight ?? curve!.best : nil
        let (prediction, alternatives) = try validation.predictions(
            mode: plan.mode,
            projection: projection.validated,
            projected: projected,
            fuseWeight: fuseWeight,
            newEncoder: encoders.new
        )
        var stored = projection.final
        stored.details["predicted_change"] = prediction.change
        stored.details["validation_score"] = projection.scores.first { $0.method == stored.method }?.score
        let id = try store(stored, pairs: pairs.newSide.count)
        let oldRanks = validation.oldRanks
        return Fit(
            projection: stored,
            projectionId: id,
            documentPairs: pairs.paired.count,
            queryPairs: pairs.queryPairs,
            scores: projection.scores,
            pseudoQueries: validation.queries.count,
            oldModelScore: oldRanks.reduce(0, +) / Double(max(oldRanks.count, 1)),
            fuseWeight: fuseWeight,
            fuseScores: curve?.scores ?? [],
            prediction: prediction,
            alternatives: alternatives
        )
    }

    /// Stores the projection, its details as JSON: the id the serving state names.
    private func store(_ projection: Projection, pairs: Int) throws(SearchError) -> Int64 {
        let details =
            (try? JSONSerialization.data(withJSONObject: projection.details, options: [.sortedKeys])).map {
                String(decoding: $0, as: UTF8.self)
            } ?? "{}"
        do {
            return try ServingStore(connection).saveProjection(
                index: index,
                from: model,
                method: projection.method.rawValue,
                pairs: pairs,
                data: projection.encoded(),
                details: details
            )
        } catch { throw .store(error) }
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
