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

    /// Reads the sample's vectors from the index and its successor, and embeds `queries` with both models.
    init(
        sample ids: [String],
        of index: IndexRecord,
        successor: IndexRecord,
        queries: [String],
        encoders: (old: any TextEncoding, new: any TextEncoding),
        vectors: VectorSearch,
        seed: UInt64
    ) throws(SearchError) {
        let (old, new, texts) = try SearchError.mapping {
            (
                try vectors.vectors(index, ids: ids), try vectors.vectors(successor, ids: ids),
                try vectors.texts(index, ids: ids)
            )
        }
        var queryPairs: (new: [[Float]], old: [[Float]]) = ([], [])
        if !queries.isEmpty { queryPairs = (try encoders.new.embed(queries), try encoders.old.embed(queries)) }
        self.init(sample: ids, old: old, new: new, texts: texts, queryPairs: queryPairs, seed: seed)
    }

    /// The pairs of plain vectors: documents of `ids` with both vectors (in sample order), then
    /// the query pairs; a seeded fifth of the documents (at least one) held out.
    init(
        sample ids: [String],
        old: [String: [Float]],
        new: [String: [Float]],
        texts: [String: (title: String, body: String)],
        queryPairs: (new: [[Float]], old: [[Float]]),
        seed: UInt64
    ) {
        (self.old, self.new, self.texts) = (old, new, texts)
        let paired = ids.filter { old[$0] != nil && new[$0] != nil }
        self.paired = paired
        newSide = paired.map { new[$0]! } + queryPairs.new
        oldSide = paired.map { old[$0]! } + queryPairs.old
        self.queryPairs = queryPairs.new.count
        var shuffled = paired
        var generator = SplitMix64(seed: seed ^ 0x5EED)
        shuffled.shuffle(using: &generator)
        let heldOut = Array(shuffled.prefix(max(1, shuffled.count / 5)))
        let heldOutSet = Set(heldOut)
        self.heldOut = heldOut
        let fitted = paired.enumerated().filter { !heldOutSet.contains($0.element) }.map(\.offset)
        fittingRows = fitted + (0..<queryPairs.new.count).map { paired.count + $0 }
    }
}

/// What the fit needs of a model: query vectors and document vectors (as workers make them).
/// ``QueryEncoder`` is one; tests give others.
protocol TextEncoding {
    func embed(_ texts: [String]) throws(SearchError) -> [[Float]]
    func embedDocuments(_ texts: [String]) throws(SearchError) -> [[Float]]
}

extension QueryEncoder: TextEncoding {}
