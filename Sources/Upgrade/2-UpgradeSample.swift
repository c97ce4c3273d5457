import Foundation
import Search
import Store

/// The documents an upgrade is fitted on: a seeded sample of the index's documents (the same seed
/// gives the same sample), and which of them the successor index still lacks a vector of the
/// current version for.
public struct UpgradeSample: Sendable {
    public let ids: [String]

    /// Draws `size` documents of `index`.
    public static func draw(
        _ index: IndexRecord,
        size: Int,
        seed: Int,
        vectors: VectorSearch
    ) throws(SearchError) -> Self {
        try SearchError.mapping {
            let total = try vectors.vectorCount(index)
            guard size >= 4 else {
                throw StoreError.invalid("--sample \(size) is too small: a fit needs at least 4 documents")
            }
            guard size <= total else {
                throw StoreError.invalid("--sample \(size) is larger than index \(index.name) (\(total) documents)")
            }
            return Self(ids: try vectors.sample(index, size: size, seed: seed))
        }
    }

    /// Those of the sample `successor` has no vector of the current version for.
    public func missing(
        _ index: IndexRecord,
        in successor: IndexRecord,
        vectors: VectorSearch
    ) throws(SearchError)
        -> [String]
    {
        do { return try vectors.lacking(index, ids: ids, in: successor) } catch { throw .store(error) }
    }

    /// Waits until the successor holds every sampled document: a job already running for it (a
    /// re-index) carries some, which the sample's own job skipped, and a fit never runs on part.
    /// `waiting` hears how many are still missing, each time that changes.
    public func awaitEmbedded(
        _ index: IndexRecord,
        in successor: IndexRecord,
        vectors: VectorSearch,
        seconds: Double,
        waiting: (Int) -> Void
    ) throws(SearchError) {
        let deadline = Date().addingTimeInterval(seconds)
        var reported = -1
        while true {
            let missing = try missing(index, in: successor, vectors: vectors).count
            guard missing > 0 else { return }
            guard Date() < deadline else {
                throw .store(
                    .invalid(
                        "\(missing) sampled documents still lack a vector of \(successor.model.name) after \(Int(seconds)) s (is a job for \(successor.name) stuck? see `coord status`); nothing was switched"
                    )
                )
            }
            if missing != reported {
                waiting(missing)
                reported = missing
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}
