import Foundation

/// Reads the records of a JSONL corpus, one batch at a time.
///
/// ``validate(maxErrors:)`` checks the whole file first (so a run never stops
/// half-way over a bad line at the end); iteration then yields good records,
/// skipping the lines validation reported.
public struct CorpusReader: Sendable {
    public let path: String

    public init(path: String) throws(CorpusError) {
        _ = try JSONLinesReader(path: path)
        self.path = path
    }

    /// What validation found.
    public struct Report: Sendable {
        public var records = 0
        public var errors: [CorpusError] = []
        /// Errors past `maxErrors` are counted, not kept.
        public var errorCount = 0
        public var invalidLines: Set<Int> = []
    }

    /// Checks every line: UTF-8, JSON, an id, a text; with `rejectDuplicates`, ids unique; with
    /// `maxLineBytes`, no line longer.
    public func validate(
        rejectDuplicates: Bool = false,
        maxErrors: Int = 20,
        maxLineBytes: Int? = nil
    ) throws(CorpusError) -> Report {
        var report = Report()
        var seen: [String: Int] = [:]
        for (line, bytes) in try JSONLinesReader(path: path) {
            do throws(CorpusError) {
                if let maxLineBytes, bytes.count > maxLineBytes {
                    throw CorpusError.lineTooLong(path: path, line: line, bytes: bytes.count, limit: maxLineBytes)
                }
                let record = try CorpusRecord.parse(bytes, path: path, line: line)
                if rejectDuplicates {
                    if let first = seen[record.id] {
                        throw CorpusError.duplicateId(path: path, line: line, id: record.id, firstLine: first)
                    }
                    seen[record.id] = line
                }
                report.records += 1
            } catch {
                report.errorCount += 1
                report.invalidLines.insert(line)
                if report.errors.count < maxErrors { report.errors.append(error) }
            }
        }
        return report
    }

    /// Calls `body` with batches of up to `batchSize` valid records, in file
    /// order; lines in `skipping` and lines that do not parse are left out.
    public func forEachBatch(
        of batchSize: Int,
        limit: Int? = nil,
        skipping: Set<Int> = [],
        _ body: ([CorpusRecord]) throws -> Void
    ) throws {
        var batch: [CorpusRecord] = []
        var taken = 0
        for (line, bytes) in try JSONLinesReader(path: path) where !skipping.contains(line) {
            if let limit, taken >= limit { break }
            guard let record = try? CorpusRecord.parse(bytes, path: path, line: line) else { continue }
            batch.append(record)
            taken += 1
            if batch.count == batchSize {
                try body(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { try body(batch) }
    }

    /// The first `limit` valid records (all when nil).
    public func records(limit: Int? = nil) throws -> [CorpusRecord] {
        var all: [CorpusRecord] = []
        try forEachBatch(of: 4096, limit: limit) { all.append(contentsOf: $0) }
        return all
    }
}
