import DriftlessTestSupport
import Foundation
import PropertyBased
import Store
import Testing

extension Integration {
    @Suite("COPY text")
    struct CopyTextTests {
        /// Pieces that COPY's text format must escape, next to plain and multi-byte text.
        static let pieces = [
            "a", "word ", "\t", "\n", "\r", "\r\n", "\\", "\\N", "\\t", "é", "日本", "😀", "\"", ",", " ",
        ]
        static let column = Gen.int(in: 0...(pieces.count - 1)).map { pieces[$0] }.array(of: 0...40)
            .map { $0.joined() }
        /// A row of three columns: the first or the second is NULL one time in eight each.
        static let rows = zip(Gen.int(in: 0...7), column, column, column).map { nulls, a, b, c -> [String?] in
            [nulls == 0 ? nil : a, nulls == 1 ? nil : b, c]
        }.array(of: 1...20)

        @Test("rows written as COPY text come back from PostgreSQL exactly: escapes, NULLs, multi-byte text")
        func roundTrip() async throws {
            let database = try TestDatabase()
            let connection = try database.connect()
            try connection.execute("CREATE TABLE copied (n int, a text, b text, c text)")
            var batch = 0
            // propertyCheck swallows what its body throws: errors are recorded here.
            await propertyCheck(count: 100, input: Self.rows) { rows in
                batch += 1
                var copy = CopyText()
                for (n, row) in rows.enumerated() { copy.appendRow([String(n)] + row) }
                do {
                    try connection.execute("TRUNCATE copied")
                    _ = try connection.copyIn("COPY copied (n, a, b, c) FROM STDIN", data: copy.data)
                    let back = try connection.execute("SELECT a, b, c FROM copied ORDER BY n")
                    #expect(back.rows.map { $0 } == rows, "batch \(batch)")
                } catch {
                    Issue.record("batch \(batch): \(error)")
                }
            }
        }

        @Test("rows written as binary COPY come back exactly: text, NULL, jsonb, bigint, every float of a vector")
        func binaryRoundTrip() async throws {
            let database = try TestDatabase()
            let connection = try database.connect()
            try connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
            try connection.execute(
                "CREATE TABLE copied (n bigint, a text, b text, meta jsonb, embedding vector(5))"
            )
            var batch = 0
            let floats = Gen.int(in: -2_000_000...2_000_000).map { Float($0) / 999_983 }.array(of: 5...5)
            await propertyCheck(count: 100, input: zip(Self.rows, floats.array(of: 20...20))) { rows, vectors in
                batch += 1
                var copy = CopyBinary()
                for (n, row) in rows.enumerated() {
                    copy.beginRow(fields: 5)
                    copy.bigint(Int64(n) - 3_000_000_000)
                    copy.text(row[0])
                    copy.text(row[1])
                    let json = (try? JSONEncoder().encode(["c": row[2] ?? ""])) ?? Data()
                    copy.jsonb(String(decoding: json, as: UTF8.self))
                    copy.vector(vectors[n])
                }
                do {
                    try connection.execute("TRUNCATE copied")
                    _ = try connection.copyIn(
                        "COPY copied (n, a, b, meta, embedding) FROM STDIN (FORMAT binary)",
                        data: copy.data
                    )
                    let back = try connection.execute(
                        "SELECT n, a, b, meta->>'c', embedding::text FROM copied ORDER BY n"
                    )
                    #expect(back.rows.map { $0[0] } == rows.indices.map { String(Int64($0) - 3_000_000_000) })
                    #expect(back.rows.map { [$0[1], $0[2]] } == rows.map { [$0[0], $0[1]] }, "batch \(batch)")
                    #expect(back.rows.map { $0[3] } == rows.map { $0[2] ?? "" }, "batch \(batch)")
                    #expect(
                        back.rows.map { CopyText.parseVector($0[4]!) } == rows.indices.map { vectors[$0] },
                        "batch \(batch)"
                    )
                } catch {
                    Issue.record("batch \(batch): \(error)")
                }
            }
        }
    }
}
