import Corpus
import Foundation
import Testing

@Suite("Corpus reader")
struct CorpusReaderTests {
    static func file(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "driftless-corpus-\(UUID().uuidString).jsonl"
        )
        try Data(bytes).write(to: url)
        return url.path
    }

    static func file(_ text: String) throws -> String { try file(Array(text.utf8)) }

    @Test("BEIR lines parse: ids, titles, texts, metadata, line numbers")
    func parses() throws {
        let path = try Self.file(
            """
            {"_id": "d1", "title": "T", "text": "body", "year": 2020}
            {"id": 42, "text": "no title"}

            {"_id": "d3", "text": ""}\r
            """
        )
        let records = try CorpusReader(path: path).records()
        #expect(records.map(\.id) == ["d1", "42", "d3"])
        #expect(records.map(\.line) == [1, 2, 4])
        #expect(records[0].embeddingText == "T body")
        #expect(records[1].embeddingText == "no title")
        #expect(records[2].text == "")
        #expect(records[0].metadata == #"{"year":2020}"#)
    }

    @Test("validation names every bad line and what is wrong with it")
    func validation() throws {
        var bytes = Array(
            """
            {"_id": "a", "text": "fine"}
            {"_id": "b", "text": "broken
            ["not", "an", "object"]
            {"text": "no id"}
            {"_id": "c"}
            {"_id": "a", "text": "again"}

            """.utf8
        )
        bytes += Array(#"{"_id": "d", "text": "bad "#.utf8) + [0xC3, 0x28] + Array("\"}\n".utf8)
        let path = try Self.file(bytes)
        let report = try CorpusReader(path: path).validate(rejectDuplicates: true)
        #expect(report.records == 1)
        #expect(report.errorCount == 6)
        #expect(report.invalidLines == [2, 3, 4, 5, 6, 7])
        #expect(
            report.errors == [
                .invalidJSON(path: path, line: 2), .notAnObject(path: path, line: 3), .missingId(path: path, line: 4),
                .missingText(path: path, line: 5, id: "c"), .duplicateId(path: path, line: 6, id: "a", firstLine: 1),
                .invalidUTF8(path: path, line: 7),
            ]
        )
        #expect(report.errors[0].description == "\(path):2: invalid JSON")
        #expect(report.errors[5].description == "\(path):7: invalid UTF-8")
    }

    @Test("batches skip the lines validation rejected and keep file order")
    func batches() throws {
        let lines = (1...10).map { i in i == 4 ? "{oops" : #"{"_id": "d\#(i)", "text": "t\#(i)"}"# }
        let path = try Self.file(lines.joined(separator: "\n"))
        let reader = try CorpusReader(path: path)
        let report = try reader.validate()
        var seen: [[String]] = []
        try reader.forEachBatch(of: 4, skipping: report.invalidLines) { seen.append($0.map(\.id)) }
        #expect(seen == [["d1", "d2", "d3", "d5"], ["d6", "d7", "d8", "d9"], ["d10"]])
        #expect(try reader.records(limit: 2).map(\.id) == ["d1", "d2"])
    }

    @Test("a NUL character in the id, text, title or metadata is refused, naming the line and the field")
    func nulCharacters() throws {
        let lines = [
            #"{"_id": "ok", "text": "fine"}"#,
            #"{"_id": "t", "text": "before\u0000after"}"#,
            #"{"_id": "h", "title": "\u0000", "text": "x"}"#,
            #"{"_id": "m", "text": "x", "tags": ["a\u0000"]}"#,
            #"{"_id": "k\u0000", "text": "x"}"#,
            #"{"_id": "u", "text": "\\u0000 is only text here"}"#,
        ]
        let path = try Self.file(lines.joined(separator: "\n"))
        let report = try CorpusReader(path: path).validate()
        #expect(report.invalidLines == [2, 3, 4, 5])
        #expect(
            report.errors == [
                .nulCharacter(path: path, line: 2, id: "t", field: "the text"),
                .nulCharacter(path: path, line: 3, id: "h", field: "the title"),
                .nulCharacter(path: path, line: 4, id: "m", field: "the metadata"),
                .nulCharacter(path: path, line: 5, id: nil, field: "the id"),
            ]
        )
        #expect(report.errors[0].description.hasPrefix("\(path):2: document t: a NUL character"))
    }

    @Test("a missing file is named")
    func missingFile() {
        #expect(throws: CorpusError.fileMissing(path: "/nonexistent.jsonl")) {
            try CorpusReader(path: "/nonexistent.jsonl")
        }
    }

    @Test("lines longer than the read chunk are read whole")
    func longLines() throws {
        let text = String(repeating: "word ", count: 50_000)
        let path = try Self.file(#"{"_id": "long", "text": "\#(text)"}"# + "\n" + #"{"_id": "next", "text": "x"}"#)
        let reader = try JSONLinesReader(path: path, chunkSize: 4096)
        #expect(reader.map(\.number) == [1, 2])
        #expect(try CorpusReader(path: path).records().first?.text == text)
    }

    /// A 24 MB line read in 64 KB chunks: before, each chunk copied and searched the whole line
    /// so far again (about 4.6 GB searched for a 24 MB line: quadratic).
    @Test("a line of any length costs time linear in its length")
    func linearInLength() throws {
        let text = String(repeating: "lorem ipsum ", count: 2_000_000)
        let contents = #"{"_id": "big", "text": "\#(text)"}"# + "\n" + #"{"_id": "next", "text": "x"}"# + "\n"
        let path = try Self.file(contents)
        var lines = try JSONLinesReader(path: path, chunkSize: 1 << 16).makeIterator()
        var lengths: [Int] = []
        while let line = lines.next() { lengths.append(line.bytes?.count ?? -1) }
        let size = contents.utf8.count
        #expect(lengths == [26 + text.utf8.count, 28])
        #expect(lines.bytesSearched <= size)
        #expect(lines.bytesCopied <= 2 * size)
    }

    @Test("a CRLF line's CR counts neither in it nor against the limit")
    func crlfAtLimit() throws {
        let line = #"{"_id": "a", "text": "ok"}"#
        let path = try Self.file(line + "\r\n" + line + "x\r\n")
        var lines = try JSONLinesReader(path: path, maxLineBytes: line.utf8.count).makeIterator()
        #expect(lines.next()?.bytes == Data(line.utf8))
        let over = lines.next()
        #expect(over?.bytes == nil && over?.length == line.utf8.count + 1)
    }

    @Test("a line over the limit is reported with its length, never held whole; the rest is read")
    func overLimit() throws {
        let text = String(repeating: "x", count: 5_000_000)
        let path = try Self.file(
            #"{"_id": "a", "text": "ok"}"# + "\n" + #"{"_id": "huge", "text": "\#(text)"}"# + "\n"
                + #"{"_id": "c", "text": "ok too"}"#
        )
        var lines = try JSONLinesReader(path: path, chunkSize: 4096, maxLineBytes: 1000).makeIterator()
        var seen: [(Int, Int, Bool)] = []
        while let line = lines.next() { seen.append((line.number, line.length, line.bytes != nil)) }
        #expect(seen.map(\.0) == [1, 2, 3])
        #expect(seen[1].1 == 27 + text.utf8.count && !seen[1].2)
        #expect(seen[0].2 && seen[2].2)
        #expect(lines.largestBuffer <= 1000 + 2 * 4096)

        let reader = try CorpusReader(path: path, maxLineBytes: 1000)
        let report = try reader.validate()
        #expect(report.records == 2)
        #expect(report.errors == [.lineTooLong(path: path, line: 2, bytes: 27 + text.utf8.count, limit: 1000)])
        #expect(try reader.records().map(\.id) == ["a", "c"])
    }
}
