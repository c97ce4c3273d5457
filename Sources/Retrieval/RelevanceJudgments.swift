import Foundation

/// Graded relevance judgments (qrels): query id → document id → relevance.
/// A document is relevant when its relevance is at least 1, as in trec_eval.
public struct RelevanceJudgments: Sendable, Equatable {
    public private(set) var byQuery: [String: [String: Int]]
    /// Lines that judged a (query, document) pair already judged; the higher relevance is kept.
    public private(set) var duplicates = 0

    public init(_ byQuery: [String: [String: Int]] = [:]) { self.byQuery = byQuery }

    public subscript(query: String) -> [String: Int]? { byQuery[query] }
    public var queryIds: Set<String> { Set(byQuery.keys) }
    public var documentIds: Set<String> { Set(byQuery.values.flatMap(\.keys)) }
    public var count: Int { byQuery.values.reduce(0) { $0 + $1.count } }

    public mutating func judge(query: String, document: String, relevance: Int) {
        if let previous = byQuery[query]?[document] {
            duplicates += 1
            byQuery[query]![document] = max(previous, relevance)
        } else {
            byQuery[query, default: [:]][document] = relevance
        }
    }

    /// Reads BEIR qrels (`query-id<TAB>corpus-id<TAB>score`, header optional) or TREC qrels
    /// (`query 0 doc relevance`, whitespace-separated). A first line whose relevance field
    /// is not an integer is taken as the header; anywhere else it is an error naming the line.
    public static func load(path: String) throws(RetrievalError) -> RelevanceJudgments {
        guard FileManager.default.fileExists(atPath: path) else { throw .fileMissing(path: path) }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription) (not UTF-8 text?)")
        }
        var judgments = RelevanceJudgments()
        var number = 0
        // Split on any newline: "\r\n" is one Character in Swift, so splitting on "\n" would miss it.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init)
            if fields.isEmpty { continue }
            let query: String
            let document: String
            let grade: String
            switch fields.count {
            case 3: (query, document, grade) = (fields[0], fields[1], fields[2])
            case 4: (query, document, grade) = (fields[0], fields[2], fields[3])
            default:
                throw .malformedJudgment(
                    path: path,
                    line: number,
                    reason:
                        "expected 3 fields (query, document, relevance) or 4 (TREC: query, 0, document, relevance), found \(fields.count)"
                )
            }
            guard let relevance = Int(grade) else {
                if number == 1 && judgments.count == 0 { continue }  // the header
                throw .malformedJudgment(path: path, line: number, reason: "relevance \"\(grade)\" is not an integer")
            }
            judgments.judge(query: query, document: document, relevance: relevance)
        }
        guard judgments.count > 0 else { throw .emptyJudgments(path: path) }
        return judgments
    }
}
