import DriftlessTestSupport
import Foundation
import Testing

/// What every indexing test ends with: each document present exactly once, with a vector.
struct IndexAssertions {
    let database: TestDatabase

    func vectorTable(_ index: String) throws -> String {
        try #require(try database.scalar("SELECT vector_table FROM indexes WHERE name = $1", [index]))
    }

    /// Every id in `ids` has exactly one vector and one document row, and nothing else is there;
    /// and each vector was written by exactly `commits` commits (one per job that embedded it: a
    /// second, unfenced commit of a shard shows here, as doc_id is a key that cannot repeat).
    func exactlyOnce(
        index: String,
        ids: [String],
        commits: Int? = 1,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let table = try vectorTable(index)
        if let commits {
            let wrong = try database.connect().execute(
                "SELECT doc_id, commits FROM \(table) WHERE commits <> $1 ORDER BY doc_id LIMIT 5",
                [String(commits)]
            )
            #expect(
                wrong.rows.isEmpty,
                "vectors written by other than \(commits) commit(s): \(wrong.rows)",
                sourceLocation: sourceLocation
            )
        }
        let rows = try database.connect().execute("SELECT doc_id FROM \(table)")
        let stored = rows.rows.map { $0[0]! }
        #expect(stored.count == Set(stored).count, "duplicate vectors", sourceLocation: sourceLocation)
        #expect(
            Set(stored) == Set(ids),
            "missing: \(Set(ids).subtracting(stored).sorted().prefix(10)), extra: \(Set(stored).subtracting(ids).sorted().prefix(10))",
            sourceLocation: sourceLocation
        )
        let documents = try database.count(
            "SELECT count(*) FROM documents d JOIN indexes i ON i.collection_id = d.collection_id WHERE i.name = $1",
            [index]
        )
        #expect(documents == ids.count, sourceLocation: sourceLocation)
    }

    func ids(_ documents: [[String: Any]]) -> [String] { documents.map { $0["_id"] as! String } }
}
