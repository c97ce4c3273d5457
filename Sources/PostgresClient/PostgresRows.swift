/// A query's result in text format: column names and rows of optional strings (nil is SQL NULL).
public struct PostgresRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    /// Rows changed by INSERT/UPDATE/DELETE/COPY (`PQcmdTuples`), 0 otherwise.
    public let affected: Int

    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }

    /// The value at `row` in the column named `column` (nil when NULL or no such column).
    public func value(_ row: Int, _ column: String) -> String? {
        guard let index = columns.firstIndex(of: column) else { return nil }
        return rows[row][index]
    }

    public func int(_ row: Int, _ column: String) -> Int? { value(row, column).flatMap { Int($0) } }
    public func double(_ row: Int, _ column: String) -> Double? { value(row, column).flatMap { Double($0) } }

    /// The first column of the first row.
    public var scalar: String? { rows.first?.first ?? nil }
}
