import Foundation

/// A byte-level BPE tokenizer equal to the reference (Hugging Face `tokenizers`) for
/// GPT-style models (Qwen2/Qwen3, Llama 3): added tokens matched first, NFC, the `Split`
/// pre-tokenizer (``ByteLevelSplitter``), each piece's UTF-8 bytes mapped to GPT-2's byte
/// alphabet, merges applied by rank, and the special tokens the folder asks for (a
/// `TemplateProcessing` post-processor, or `add_bos_token` / `add_eos_token` in
/// `tokenizer_config.json`). Truncation keeps them.
public struct ByteLevelBPETokenizer: Sendable {
    /// A token matched in the raw text before anything else (`<|endoftext|>`, `<|im_start|>`, …).
    struct AddedToken: Sendable {
        let content: [Unicode.Scalar]
        let id: Int32
    }

    public let prefix: [Int32]
    public let suffix: [Int32]
    let splitter: ByteLevelSplitter
    let normalizesNFC: Bool
    /// The id of each byte's one-character token, or -1 where the vocabulary lacks it.
    let byteIds: [Int32]
    /// (left id << 32 | right id) → (rank, merged id).
    let merges: [UInt64: Merge]
    let addedTokens: [AddedToken]
    let vocabularyIds: [Int32]

    struct Merge: Sendable {
        let rank: Int32
        let id: Int32
    }

    /// Reads `tokenizer.json` (already parsed as `root`) and `tokenizer_config.json` in `folder`.
    init(folder: URL, root: [String: Any]) throws {
        let path = folder.appendingPathComponent("tokenizer.json").path
        func fail(_ reason: String) -> EmbeddingError { .unreadableTokenizer(path: path, reason: reason) }
        guard let model = root["model"] as? [String: Any], let vocab = model["vocab"] as? [String: Int] else {
            throw fail("no BPE vocabulary in 'model'")
        }
        if (model["byte_fallback"] as? Bool) == true { throw fail("byte_fallback BPE is not supported") }
        if let prefix = model["continuing_subword_prefix"] as? String, !prefix.isEmpty {
            throw fail("continuing_subword_prefix '\(prefix)' is not supported")
        }
        if let suffix = model["end_of_word_suffix"] as? String, !suffix.isEmpty {
            throw fail("end_of_word_suffix '\(suffix)' is not supported")
        }
        if (model["ignore_merges"] as? Bool) == true { throw fail("ignore_merges is not supported") }

        // Normaliser: none or NFC.
        switch (root["normalizer"] as? [String: Any])?["type"] as? String {
        case nil: normalizesNFC = false
        case "NFC": normalizesNFC = true
        case let other?: throw fail("normalizer '\(other)' is not supported (NFC is)")
        }
        splitter = try Self.splitter(root["pre_tokenizer"] as? [String: Any], fail: fail)

        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(vocab.count)
        for (token, id) in vocab { ids[Array(token.utf8)] = Int32(clamping: id) }
        let alphabet = Self.byteAlphabet
        byteIds = (0..<256).map { ids[Array(String(alphabet[$0]).utf8)] ?? -1 }

        guard let mergeList = model["merges"] as? [Any] else { throw fail("no 'merges' in the BPE model") }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, entry) in mergeList.enumerated() {
            let pair: [String]
            if let text = entry as? String {
                pair = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let list = entry as? [String] {
                pair = list
            } else {
                throw fail("merge \(rank) is neither \"a b\" nor [\"a\", \"b\"]")
            }
            guard pair.count == 2, let left = ids[Array(pair[0].utf8)], let right = ids[Array(pair[1].utf8)],
                let merged = ids[Array((pair[0] + pair[1]).utf8)]
            else { throw fail("merge \(rank) (\(entry)) names tokens that are not in the vocabulary") }
            let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
            if merges[key] == nil { merges[key] = Merge(rank: Int32(rank), id: merged) }
        }
        self.merges = merges
        vocabularyIds = Array(ids.values)

        addedTokens = ((root["added_tokens"] as? [[String: Any]]) ?? []).compactMap { entry in
            guard let content = entry["content"] as? String, let id = entry["id"] as? Int, !content.isEmpty else {
                return nil
            }
            return AddedToken(content: Array(content.unicodeScalars), id: Int32(clamping: id))
        }
        .sorted { $0.content.count > $1.content.count }

        // Special tokens: the post-processor's template, then tokenizer_config.json's flags.
        var prefix: [Int32] = []
        var suffix: [Int32] = []
        if let processor = root["post_processor"] as? [String: Any] {
            switch processor["type"] as? String {
            case "ByteLevel": break
            case "TemplateProcessing":
                (prefix, suffix) = try WordPieceTokenizer.template(processor, vocabulary: Vocabulary(), fail: fail)
            case let other: throw fail("post-processor '\(other ?? "?")' is not supported")
            }
        }
        let configURL = folder.appendingPathComponent("tokenizer_config.json")
        if let config = try JSONFile.optionalObject(at: configURL) {
            let added = Dictionary(
                addedTokens.map { (String(String.UnicodeScalarView($0.content)), $0.id) },
                uniquingKeysWith: { a, _ in a }
            )
            func special(_ key: String) throws -> Int32 {
                let value = config[key]
                let name = (value as? String) ?? ((value as? [String: Any])?["content"] as? String)
                guard let name, let id = added[name] ?? ids[Array(name.utf8)] else {
                    throw EmbeddingError.invalidConfiguration(
                        path: configURL.path,
                        setting: key,
                        reason: "is missing or names a token the tokenizer does not have"
                    )
                }
                return id
            }
            if (config["add_bos_token"] as? Bool) == true {
                let bos = try special("bos_token")
                if prefix.first != bos { prefix.insert(bos, at: 0) }
            }
            if (config["add_eos_token"] as? Bool) == true {
                let eos = try special("eos_token")
                if suffix.last != eos { suffix.append(eos) }
            }
        }
        self.prefix = prefix
        self.suffix = suffix
    }

    /// The pre-tokenizer: `Split` with a known pattern followed by `ByteLevel` without its own
    /// regex (Qwen2's layout), or alone in a `Sequence`.
    private static func splitter(
        _ preTokenizer: [String: Any]?,
        fail: (String) -> EmbeddingError
    ) throws -> ByteLevelSplitter {
        let steps: [[String: Any]] =
            (preTokenizer?["type"] as? String) == "Sequence"
            ? (preTokenizer?["pretokenizers"] as? [[String: Any]]) ?? []
            : preTokenizer.map { [$0] } ?? []
        let types = steps.map { ($0["type"] as? String) ?? "?" }
        guard types == ["Split", "ByteLevel"] else {
            throw fail(
                "pre-tokenizer \(types.isEmpty ? "none" : types.joined(separator: " + ")) is not supported "
                    + "(Split with a GPT-style regex, then ByteLevel, is)"
            )
        }
        let split = steps[0]
        let pattern = (split["pattern"] as? [String: Any])?["Regex"] as? String ?? "?"
        guard let splitter = ByteLevelSplitter(pattern: pattern) else {
            throw fail(
                "Split pre-tokenizer's regex \(pattern.debugDescription) is not supported (Qwen2's and cl100k's are)"
            )
        }
        guard (split["behavior"] as? String) == "Isolated", (split["invert"] as? Bool) != true else {
            throw fail("Split pre-tokenizer must be behavior Isolated, not inverted")
        }
        let byteLevel = steps[1]
        guard (byteLevel["use_regex"] as? Bool) == false, (byteLevel["add_prefix_space"] as? Bool) != true else {
            throw fail("ByteLevel pre-tokenizer after Split must have use_regex and add_prefix_space false")
        }
        return splitter
    }

    public var producibleIds: [Int32] { vocabularyIds + addedTokens.map(\.id) + prefix + suffix }

    public func encode(_ text: String, maxLength: Int) -> [Int32] {
        let room = max(0, maxLength - prefix.count - suffix.count)
        var ids = tokenize(text, limit: room)
        if ids.count > room { ids.removeSubrange(room...) }
        return prefix + ids + suffix
    }

    public func tokenize(_ text: String) -> [Int32] { tokenize(text, limit: .max) }

    /// The ids of `text`, stopping once there are at least `limit` (a long document is not
    /// merged past its window: pieces are merged independently, so the first ids are exact).
    private func tokenize(_ text: String, limit: Int) -> [Int32] {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int32] = []
        var start = 0
        var i = 0
        while i < scalars.count && ids.count < limit {
            if let token = addedTokens.first(where: { matches($0.content, scalars, at: i) }) {
                if start < i { encodeText(scalars[start..<i], into: &ids, limit: limit) }
                ids.append(token.id)
                i += token.content.count
                start = i
            } else {
                i += 1
            }
        }
        if start < scalars.count && ids.count < limit { encodeText(scalars[start...], into: &ids, limit: limit) }
        return ids
    }

    private func matches(_ token: [Unicode.Scalar], _ s: [Unicode.Scalar], at i: Int) -> Bool {
        guard s[i] == token[0], i + token.count <= s.count else { return false }
        for k in 1..<token.count where s[i + k] != token[k] { return false }
        return true
    }

    private func encodeText(_ raw: ArraySlice<Unicode.Scalar>, into ids: inout [Int32], limit: Int) {
        var text = String(String.UnicodeScalarView(raw))
        if normalizesNFC { text = text.precomposedStringWithCanonicalMapping }
        let scalars = Array(text.unicodeScalars)
        var symbols: [Int32] = []
        for piece in splitter.split(scalars) where ids.count < limit {
            symbols.removeAll(keepingCapacity: true)
            for scalar in scalars[piece] {
                UTF8.encode(scalar) { byte in
                    if byteIds[Int(byte)] >= 0 { symbols.append(byteIds[Int(byte)]) }
                }
            }
            merge(&symbols)
            ids.append(contentsOf: symbols)
        }
    }

    /// Applies merges lowest rank first, the leftmost pair first among equals.
    private func merge(_ symbols: inout [Int32]) {
        while symbols.count > 1 {
            var best = Int32.max
            var at = -1
            var merged: Int32 = 0
            for k in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(bitPattern: symbols[k])) << 32 | UInt64(UInt32(bitPattern: symbols[k + 1]))
                if let merge = merges[key], merge.rank < best {
                    best = merge.rank
                    at = k
                    merged = merge.id
                }
            }
            guard at >= 0 else { return }
            symbols[at] = merged
            symbols.remove(at: at + 1)
        }
    }

    /// GPT-2's map from bytes to printable characters: printable Latin-1 bytes stand for
    /// themselves, the rest take the code points from U+0100 up, in byte order.
    static let byteAlphabet: [Character] = {
        var printable = Set<Int>(0x21...0x7E)
        printable.formUnion(0xA1...0xAC)
        printable.formUnion(0xAE...0xFF)
        var next = 256
        return (0..<256).map { byte in
            if printable.contains(byte) { return Character(Unicode.Scalar(UInt32(byte))!) }
            defer { next += 1 }
            return Character(Unicode.Scalar(UInt32(next))!)
        }
    }()
}

extension ByteLevelBPETokenizer: TextTokenizer {}
