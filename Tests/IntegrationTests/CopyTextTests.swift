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
    }
}
