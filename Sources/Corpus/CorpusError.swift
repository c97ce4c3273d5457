/// What is wrong with one line of a JSONL corpus; each case names the file and line.
public enum CorpusError: Error, CustomStringConvertible, Equatable, Sendable {
    case fileMissing(path: String)
    case unreadable(path: String, reason: String)
    case invalidUTF8(path: String, line: Int)
    case invalidJSON(path: String, line: Int)
    case notAnObject(path: String, line: Int)
    case missingId(path: String, line: Int)
    case missingText(path: String, line: Int, id: String)
    case duplicateId(path: String, line: Int, id: String, firstLine: Int)
    case lineTooLong(path: String, line: Int, bytes: Int, limit: Int)
    /// A NUL character (U+0000) in a field: PostgreSQL's text and jsonb cannot store one.
    case nulCharacter(path: String, line: Int, id: String?, field: String)

    public var line: Int? {
        switch self {
        case .fileMissing, .unreadable: nil
        case .invalidUTF8(_, let line), .invalidJSON(_, let line), .notAnObject(_, let line), .missingId(_, let line),
            .missingText(_, let line, _), .duplicateId(_, let line, _, _), .lineTooLong(_, let line, _, _),
            .nulCharacter(_, let line, _, _):
            line
        }
    }

    /// The document's id, when the line had one.
    public var documentId: String? {
        switch self {
        case .missingText(_, _, let id), .duplicateId(_, _, let id, _): id
        case .nulCharacter(_, _, let id, _): id
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .fileMissing(let path): "\(path): no such file"
        case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
        case .invalidUTF8(let path, let line): "\(path):\(line): invalid UTF-8"
        case .invalidJSON(let path, let line): "\(path):\(line): invalid JSON"
        case .notAnObject(let path, let line): "\(path):\(line): not a JSON object"
        case .missingId(let path, let line): "\(path):\(line): no \"_id\" or \"id\" (a string or an integer)"
        case .missingText(let path, let line, let id): "\(path):\(line): document \(id) has no \"text\" string"
        case .duplicateId(let path, let line, let id, let first):
            "\(path):\(line): duplicate id \(id) (first on line \(first))"
        case .lineTooLong(let path, let line, let bytes, let limit):
            "\(path):\(line): a line of \(bytes) bytes (at most \(limit) can be submitted)"
        case .nulCharacter(let path, let line, let id, let field):
            "\(path):\(line): \(id.map { "document \($0): " } ?? "")a NUL character (\\u0000) in \(field), which PostgreSQL cannot store"
        }
    }
}
