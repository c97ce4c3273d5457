import DriftlessTestSupport
import Foundation
import Testing

/// What every indexing test ends with: each document present exactly once, with a vector.
struct IndexAssertions {
    let database: TestDatabase

    func vectorTable(_ index: String) throws -> String {
        try #require(try database.scalar("SELECT vector_table FROM indexes WHERE name = $1", [index]))
    }

    /// Every id in `ids` has exactly one vector and one document row, and nothing else is there.
    func exactlyOnce(index: String, ids: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let table = try vectorTable(index)
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
