/// WordPiece's token → id table, keyed by UTF-8 bytes.
///
/// Swift's `String` compares by canonical equivalence (a precomposed "é" equals
/// "e" + U+0301), but the reference tokenizer compares bytes: keying by bytes
/// keeps, for example, decomposed Hangul from matching a precomposed syllable.
public struct Vocabulary: Sendable {
    /// UTF-8 bytes hashed in one call: `[UInt8]`'s own hashing feeds the hasher a byte at a
    /// time, which made the lookups a tenth of a worker's time on short documents.
    struct Key: Hashable, Sendable {
        var bytes: [UInt8]

        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    private var ids: [Key: Int32] = [:]

    public init() {}

    public init(_ entries: [String: Int32]) {
        for (token, id) in entries { ids[Key(bytes: Array(token.utf8))] = id }
    }

    public subscript(_ token: String) -> Int32? {
        get { ids[Key(bytes: Array(token.utf8))] }
        set { ids[Key(bytes: Array(token.utf8))] = newValue }
    }

    subscript(bytes bytes: [UInt8]) -> Int32? {
        get { ids[Key(bytes: bytes)] }
        set { ids[Key(bytes: bytes)] = newValue }
    }

    public var count: Int { ids.count }
    public var allIds: [Int32] { Array(ids.values) }
}
