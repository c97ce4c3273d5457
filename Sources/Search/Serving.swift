import Compat
import Retrieval
import Store

/// How an index answers a query, resolved from its stored ``ServingState``: one case per mode,
/// each holding what that mode needs (the projection read, the successor found), so nothing
/// downstream unwraps an optional or re-applies a default.
public enum Serving: Sendable {
    /// Queries embedded by the index's own model, against its own vectors.
    case native
    /// New-model queries through the projection onto the stored (old) vectors.
    case projected(HalfPrecisionProjection)
    /// The projected new-model query blended with the old model's: `weight·projected + (1 − weight)·old`.
    case fused(HalfPrecisionProjection, weight: Double)
    /// The stored vectors' top `depth` for the old model's query, re-scored with new-model vectors
    /// from `successor` (embedded on demand when missing).
    case rescored(successor: IndexRecord, depth: Int)
    /// New-model queries against the successor's own vectors.
    case promoted(successor: IndexRecord)

    /// Resolves `state` for `index`; errors name what is missing (a projection, a successor) or
    /// that a native query model differs from the index's.
    static func resolve(
        _ state: ServingState,
        index: IndexRecord,
        catalog: Catalog,
        store: ServingStore
    ) throws -> Serving {
        func successor() throws -> IndexRecord {
            guard let name = state.successorIndex else {
                throw SearchError.noProjection(index: index.name, model: state.model.name)
            }
            guard let found = try catalog.index(named: name) else { throw StoreError.unknownIndex(name) }
            return found
        }
        func projection() throws -> HalfPrecisionProjection {
            guard let id = state.projectionId else {
                throw SearchError.noProjection(index: index.name, model: state.model.name)
            }
            return HalfPrecisionProjection(try Projection(decoding: store.projection(id: id)))
        }
        switch state.mode {
        case .native:
            guard state.model.name == index.model.name else {
                throw SearchError.dimensionsDiffer(index: index.name, indexModel: index.model, queryModel: state.model)
            }
            return .native
        case .project: return .projected(try projection())
        case .fuse: return .fused(try projection(), weight: state.fuseWeight ?? ServingState.defaultFuseWeight)
        case .rescore:
            return .rescored(successor: try successor(), depth: state.rescoreDepth ?? ServingState.defaultRescoreDepth)
        case .promoted: return .promoted(successor: try successor())
        }
    }

    /// The index whose vectors a search reads.
    func searched(_ index: IndexRecord) -> IndexRecord {
        if case .promoted(let successor) = self { return successor }
        return index
    }

    /// The successor index this mode reads, if any.
    var successor: IndexRecord? {
        switch self {
        case .rescored(let successor, _), .promoted(let successor): successor
        case .native, .projected, .fused: nil
        }
    }

    /// The query vectors for `texts`: `old` embeds with the index's model, `new` with the serving model.
    func embed(
        _ texts: [String],
        old: () throws(SearchError) -> any QueryEmbedding,
        new: () throws(SearchError) -> any QueryEmbedding
    ) throws(SearchError) -> [IndexSearcher.QueryVectors] {
        switch self {
        case .native:
            return try old().embed(texts).map { .init(search: $0) }
        case .promoted:
            return try new().embed(texts).map { .init(search: $0) }
        case .projected(let projection):
            var result: [IndexSearcher.QueryVectors] = []
            for vector in try new().embed(texts) { result.append(.init(search: try Self.apply(projection, vector))) }
            return result
        case .fused(let projection, let weight):
            let (newVectors, oldVectors) = (try new().embed(texts), try old().embed(texts))
            var result: [IndexSearcher.QueryVectors] = []
            for (new, old) in zip(newVectors, oldVectors) {
                result.append(.init(search: IndexSearcher.fused(try Self.apply(projection, new), old, weight: weight)))
            }
            return result
        case .rescored:
            let (oldVectors, newVectors) = (try old().embed(texts), try new().embed(texts))
            return zip(oldVectors, newVectors).map { .init(search: $0, rescore: $1) }
        }
    }

    /// The `k` best documents of `index` for a query embedded by ``embed(_:old:new:)``: the
    /// searched vectors' nearest for every mode but rescore; rescore takes the stored vectors' top
    /// `depth` for the old model's query and re-scores them with the successor's new-model vectors
    /// (`embedOnDemand` fills those it lacks), the rest keeping their order below.
    func search(
        _ query: IndexSearcher.QueryVectors,
        k: Int,
        filters: [MetadataFilter],
        method: SearchMethod,
        index: IndexRecord,
        vectors: VectorSearch,
        embedOnDemand: ([String], IndexRecord) throws -> [String: [Float]]
    ) throws -> [ScoredDocument] {
        guard case .rescored(let successor, let depth) = self, let rescore = query.rescore else {
            return try vectors.search(searched(index), vector: query.search, k: k, filters: filters, method: method)
        }
        let candidates = try vectors.search(
            index,
            vector: query.search,
            k: max(k, depth),
            filters: filters,
            method: method
        )
        let head = Array(candidates.prefix(depth))
        // Only vectors of the documents' current versions: a changed document is embedded again.
        var stored = try vectors.vectors(successor, ids: head.map(\.id), current: index)
        let missing = head.map(\.id).filter { stored[$0] == nil }
        if !missing.isEmpty { stored.merge(try embedOnDemand(missing, successor)) { a, _ in a } }
        var rescored = head.map { candidate in
            ScoredDocument(id: candidate.id, score: Double(IndexSearcher.dot(rescore, stored[candidate.id] ?? [])))
        }
        rescored.sort(by: ScoredDocument.trecOrder)
        // Beyond the re-scoring depth, candidates keep their order below every re-scored one.
        let floor = (rescored.last?.score ?? 0) - 1
        let tail = candidates.dropFirst(depth).prefix(max(0, k - rescored.count)).enumerated().map {
            ScoredDocument(id: $0.element.id, score: floor - Double($0.offset) * 1e-6)
        }
        return Array((rescored + tail).prefix(k))
    }

    private static func apply(_ projection: HalfPrecisionProjection, _ vector: [Float]) throws(SearchError) -> [Float] {
        do { return try projection.apply(vector) } catch { throw .projection(error) }
    }
}
