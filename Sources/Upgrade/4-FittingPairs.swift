import Compat
import Search
import Store

/// The pairs a projection is fitted on: each sampled document's old vector (stored in the index)
/// and new one (in the successor), then the query pairs (each query embedded by both models).
/// Validation must not see the documents a projection was fitted on (it would favour the
/// projection): a seeded fifth of the documents is held out of `fittingRows`.
struct FittingPairs {
    /// Sampled documents with both vectors, in sample order.
    let paired: [String]
    let old: [String: [Float]]
    let new: [String: [Float]]
    /// Title and text of the sampled documents (the pseudo-queries are cut from them).
    let texts: [String: (title: String, body: String)]
    /// New-model rows and old-model rows: the documents, then the queries.
    let newSide: [[Float]]
    let oldSide: [[Float]]
    let queryPairs: Int
    /// The held-out documents, and the rows the validated projection is fitted on (the rest).
    let heldOut: [String]
    let fittingRows: [Int]

    init(
        sample ids: [String],
        of index: IndexRecord,
        successor: IndexRecord,
        queries: [String],
        encoders: (old: QueryEncoder, new: QueryEncoder),
        vectors: VectorSearch,
        seed: UInt64
    ) throws(SearchError) {
        (old, new, texts) = try SearchError.mapping {
            (
                try vectors.vectors(index, ids: ids), try vectors.vectors(successor, ids: ids),
                try vectors.texts(index, ids: ids)
            )
        }
        let (old, new) = (old, new)
        let paired = ids.filter { old[$0] != nil && new[$0] != nil }
        self.paired = paired
        var newSide = paired.map { new[$0]! }
        var oldSide = paired.map { old[$0]! }
        if !queries.isEmpty {
            newSide += try encoders.new.embed(queries)
            oldSide += try encoders.old.embed(queries)
        }
        (self.newSide, self.oldSide, queryPairs) = (newSide, oldSide, queries.count)
        var shuffled = paired
        var generator = SplitMix64(seed: seed ^ 0x5EED)
        shuffled.shuffle(using: &generator)
        heldOut = Array(shuffled.prefix(max(1, shuffled.count / 5)))
        let heldOutSet = Set(shuffled.prefix(max(1, shuffled.count / 5)))
        let fitted = paired.enumerated().filter { !heldOutSet.contains($0.element) }.map(\.offset)
        fittingRows = fitted + (0..<queries.count).map { paired.count + $0 }
    }
}
