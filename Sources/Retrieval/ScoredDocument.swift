/// One retrieved document and its similarity score (higher is better).
public struct ScoredDocument: Sendable, Equatable, Codable {
    public var id: String
    public var score: Double

    public init(id: String, score: Double) {
        self.id = id
        self.score = score
    }

    /// The order trec_eval ranks a run in, whatever order it was given: score descending,
    /// ties broken by document id descending, byte by byte (its `comp_sim_docno`).
    public static func trecOrder(_ a: ScoredDocument, _ b: ScoredDocument) -> Bool {
        a.score != b.score ? a.score > b.score : b.id.utf8.lexicographicallyPrecedes(a.id.utf8)
    }
}
