/// pgvector HNSW build parameters (`m`, `ef_construction`), with pgvector's defaults and limits.
public struct HnswParameters: Sendable, Equatable, Codable {
    /// Neighbours per node per layer (pgvector: 2…100, default 16).
    public var m: Int
    /// Candidate list size while building (pgvector: 4…1000 and at least 2·m, default 64).
    public var efConstruction: Int

    /// The `hnsw.ef_search` a new index searches with (pgvector's default).
    public static let defaultEfSearch = 40

    public init(m: Int = 16, efConstruction: Int = 64) {
        self.m = m
        self.efConstruction = efConstruction
    }

    public func validate() throws(StoreError) {
        guard (2...100).contains(m) else { throw .invalid("HNSW m must be between 2 and 100, not \(m)") }
        guard (4...1000).contains(efConstruction), efConstruction >= 2 * m else {
            throw .invalid(
                "HNSW ef_construction must be between 4 and 1000 and at least 2·m (\(2 * m)), not \(efConstruction)"
            )
        }
    }

    public static func validate(efSearch: Int) throws(StoreError) {
        guard (1...1000).contains(efSearch) else {
            throw .invalid("ef_search must be between 1 and 1000, not \(efSearch)")
        }
    }
}
