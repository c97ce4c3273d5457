/// WordPiece's token → id table, keyed by UTF-8 bytes.
///
/// Swift's `String` compares by canonical equivalence (a precomposed "é" equals
/// "e" + U+0301), but the reference tokenizer compares bytes: keying by bytes
/// keeps, for example, decomposed Hangul from matching a precomposed syllable.
public struct Vocabulary: Sendable {
    private var ids: [[UInt8]: Int32] = [:]

    public init() {}

    public init(_ entries: [String: Int32]) {
        for (token, id) in entries { ids[Array(token.utf8)] = id }
    }

    public subscript(_ token: String) -> Int32? {
        get { ids[Array(token.utf8)] }
        set { ids[Array(token.utf8)] = newValue }
    }

    subscript(bytes bytes: [UInt8]) -> Int32? {
        get { ids[bytes] }
        set { ids[bytes] = newValue }
    }

    public var count: Int { ids.count }
    public var allIds: Dictionary<[UInt8], Int32>.Values { ids.values }
}
