import DriftlessTestSupport
import Foundation
import Retrieval
import Testing

@Suite("RelevanceJudgments")
struct RelevanceJudgmentsTests {
    func file(_ text: String) throws -> String { try TestResources.temporaryFile("qrels.tsv", Array(text.utf8)) }

    @Test("reads BEIR qrels with a header, graded")
    func beirWithHeader() throws {
        let judgments = try RelevanceJudgments.load(
            path: try file("query-id\tcorpus-id\tscore\n1\td1\t2\n1\td2\t0\n2\td1\t1\n")
        )
        #expect(judgments.byQuery == ["1": ["d1": 2, "d2": 0], "2": ["d1": 1]])
        #expect(judgments.count == 3)
    }

    @Test("reads BEIR qrels without a header, and TREC qrels")
    func withoutHeaderAndTrec() throws {
        #expect(try RelevanceJudgments.load(path: try file("1\td1\t1\n")).byQuery == ["1": ["d1": 1]])
        #expect(
            try RelevanceJudgments.load(path: try file("1 0 d1 1\r\n1 0 d2 3\r\n")).byQuery == [
                "1": ["d1": 1, "d2": 3]
            ]
        )
    }

    @Test("a malformed line is an error naming its line")
    func malformed() throws {
        let path = try file("query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\n")
        #expect(
            throws: RetrievalError.malformedJudgment(
                path: path,
                line: 3,
                reason:
                    "expected 3 fields (query, document, relevance) or 4 (TREC: query, 0, document, relevance), found 2"
            )
        ) { try RelevanceJudgments.load(path: path) }
        // A non-integer relevance is a header only on line 1.
        let late = try file("1\td1\t1\n2\td2\thigh\n")
        #expect(
            throws: RetrievalError.malformedJudgment(
                path: late,
                line: 2,
                reason: "relevance \"high\" is not an integer"
            )
        ) {
            try RelevanceJudgments.load(path: late)
        }
        let headerOnly = try file("query-id\tcorpus-id\tscore\n")
        #expect(throws: RetrievalError.emptyJudgments(path: headerOnly)) {
            try RelevanceJudgments.load(path: headerOnly)
        }
        #expect(throws: RetrievalError.fileMissing(path: "/nonexistent/qrels.tsv")) {
            try RelevanceJudgments.load(path: "/nonexistent/qrels.tsv")
        }
    }

    @Test("a pair judged twice keeps the higher grade and is counted")
    func duplicates() throws {
        let judgments = try RelevanceJudgments.load(path: try file("1\td1\t1\n1\td1\t2\n1\td1\t0\n"))
        #expect(judgments.byQuery == ["1": ["d1": 2]])
        #expect(judgments.duplicates == 2)
    }
}
