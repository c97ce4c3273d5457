import Foundation

/// Reads the records of a JSONL corpus, one batch at a time.
///
/// ``validate(maxErrors:)`` checks the whole file first (so a run never stops
/// half-way over a bad line at the end); iteration then yields good records,
/// skipping the lines validation reported.
public struct CorpusReader: Sendable {
    public let path: String
    /// Longer lines are invalid (``CorpusError/lineTooLong(path:line:bytes:limit:)``) and never
    /// held in memory whole; `Int.max` accepts any line.
    public let maxLineBytes: Int

    public init(path: String, maxLineBytes: Int = .max) throws(CorpusError) {
        _ = try JSONLinesReader(path: path)
        self.path = path
        self.maxLineBytes = maxLineBytes
    }

    private func lines() throws(CorpusError) -> JSONLinesReader {
        try JSONLinesReader(path: path, maxLineBytes: maxLineBytes)
    }

    /// What validation found.
    public struct Report: Sendable {
        public var records = 0
        public var errors: [CorpusError] = []
        /// Errors past `maxErrors` are counted, not kept.
        public var errorCount = 0
        public var invalidLines: Set<Int> = []
        /// Bytes of the non-blank lines checked, a newline each.
        public var bytes = 0
        /// Non-blank lines checked: each is a record or an error.
        public var lines: Int { records + errorCount }
        /// `progress` said stop: the lines after ``lines`` were not checked.
        public var stopped = false
    }

    /// Lines between two calls of `validate`'s `progress`.
    public static let progressLines = 10_000

    /// Checks every line: UTF-8, JSON, an id, a text, at most `maxLineBytes`; with
    /// `rejectDuplicates`, ids unique. Every ``progressLines`` lines `progress` is given the report
    /// so far; when it returns false the check stops there (``Report/stopped``).
    public func validate(
        rejectDuplicates: Bool = false,
        maxErrors: Int = 20,
        progress: (Report) -> Bool = { _ in true }
    ) throws(CorpusError) -> Report {
        var report = Report()
        var seen: [String: Int] = [:]
        for entry in try lines() {
            let line = entry.number
            report.bytes += entry.length + 1
            do throws(CorpusError) {
                guard let bytes = entry.bytes else {
                    throw CorpusError.lineTooLong(path: path, line: line, bytes: entry.length, limit: maxLineBytes)
                }
                let record = try Document.parse(bytes, path: path, line: line)
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
            if report.lines % Self.progressLines == 0, !progress(report) {
                report.stopped = true
                return report
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
        _ body: ([Document]) throws -> Void
    ) throws {
        var batch: [Document] = []
        var taken = 0
        for entry in try lines() where !skipping.contains(entry.number) {
            if let limit, taken >= limit { break }
            guard let bytes = entry.bytes, let record = try? Document.parse(bytes, path: path, line: entry.number)
            else { continue }
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
    public func records(limit: Int? = nil) throws -> [Document] {
        var all: [Document] = []
        try forEachBatch(of: 4096, limit: limit) { all.append(contentsOf: $0) }
        return all
    }
}
