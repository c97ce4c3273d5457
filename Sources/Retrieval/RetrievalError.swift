/// What is wrong with an evaluation input; each case names the file and line.
public enum RetrievalError: Error, CustomStringConvertible, Equatable, Sendable {
    case fileMissing(path: String)
    case unreadable(path: String, reason: String)
    /// A qrels line that is neither `query doc relevance` (BEIR) nor `query 0 doc relevance` (TREC).
    case malformedJudgment(path: String, line: Int, reason: String)
    case emptyJudgments(path: String)
    /// A query file line, as the corpus reader reported it.
    case malformedQuery(String)
    case emptyQueries(path: String)
    case invalidCutoff(Int)

    public var description: String {
        switch self {
        case .fileMissing(let path): "\(path): no such file"
        case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
        case .malformedJudgment(let path, let line, let reason): "\(path):\(line): \(reason)"
        case .emptyJudgments(let path): "\(path): no relevance judgments"
        case .malformedQuery(let message): message
        case .emptyQueries(let path): "\(path): no queries"
        case .invalidCutoff(let k): "cutoff \(k) is not a positive number of results"
        }
    }
}
