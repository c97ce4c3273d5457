import Foundation

/// A WordPiece tokenizer equal to the reference (Hugging Face `tokenizers`) for
/// BERT-style models: added-token splitting, ``BertNormalizer``,
/// ``BertPreTokenizer``, greedy longest-match-first WordPiece, truncation, and
/// the model's special-token template (`[CLS] … [SEP]`, `<s> … </s>`).
public struct WordPieceTokenizer: Sendable {
    /// A token the vocabulary adds outside WordPiece (`[CLS]`, `<mask>`, …),
    /// matched in the text before WordPiece sees it.
    struct AddedToken: Sendable {
        let content: [Unicode.Scalar]
        let id: Int32
        /// Matched in the normalised text rather than the raw text.
        let normalized: Bool
    }

    public let vocabulary: Vocabulary
    public let normalizer: BertNormalizer
    /// Ids placed before and after a single sequence.
    public let prefix: [Int32]
    public let suffix: [Int32]
    let unknownId: Int32
    /// The mark of a word's inner pieces ("##"), as UTF-8 bytes for lookups.
    let continuingPrefix: [UInt8]
    let maxInputCharactersPerWord: Int
    let addedTokens: [AddedToken]

    /// Loads `tokenizer.json` from `folder`, or `vocab.txt` (with
    /// `tokenizer_config.json`'s `do_lower_case`) when there is none.
    public init(folder: URL) throws {
        let json = folder.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json.path) {
            try self.init(tokenizerJSON: json)
        } else {
            try self.init(
                vocabText: folder.appendingPathComponent("vocab.txt"),
                config: folder.appendingPathComponent("tokenizer_config.json")
            )
        }
    }

    init(tokenizerJSON url: URL) throws {
        try self.init(tokenizerJSON: url, root: try TokenizerJSON.root(at: url))
    }

    /// From `tokenizer.json`'s content (`root`, read from `url`).
    init(tokenizerJSON url: URL, root: [String: Any]) throws {
        let path = url.path
        func fail(_ reason: String) -> EmbeddingError { .unreadableTokenizer(path: path, reason: reason) }
        guard let model = root["model"] as? [String: Any] else { throw fail("no 'model' section") }
        let type = (model["type"] as? String) ?? "WordPiece"
        guard type == "WordPiece" else { throw fail("model type '\(type)' is not supported (WordPiece is)") }
        guard let vocab = model["vocab"] as? [String: Int], !vocab.isEmpty else {
            throw fail("no WordPiece vocabulary")
        }
        let vocabulary = Vocabulary(vocab.mapValues { Int32(clamping: $0) })
        let unknown = (model["unk_token"] as? String) ?? "[UNK]"
        guard let unknownId = vocabulary[unknown] else {
            throw fail("unknown token '\(unknown)' is not in the vocabulary")
        }

        // No normaliser ("normalizer": null) means the text is used as it is.
        var normalizer = BertNormalizer(
            cleanText: false,
            handleChineseCharacters: false,
            stripAccents: false,
            lowercase: false
        )
        if let n = root["normalizer"] as? [String: Any] {
            guard (n["type"] as? String) == "BertNormalizer" else {
                throw fail("normalizer '\(n["type"] as? String ?? "?")' is not supported (BertNormalizer is)")
            }
            normalizer.cleanText = (n["clean_text"] as? Bool) ?? true
            normalizer.handleChineseCharacters = (n["handle_chinese_chars"] as? Bool) ?? true
            normalizer.lowercase = (n["lowercase"] as? Bool) ?? true
            normalizer.stripAccents = (n["strip_accents"] as? Bool) ?? normalizer.lowercase
        }
        let preTokenizer = (root["pre_tokenizer"] as? [String: Any])?["type"] as? String
        guard preTokenizer == "BertPreTokenizer" else {
            throw fail("pre-tokenizer '\(preTokenizer ?? "none")' is not supported (BertPreTokenizer is)")
        }
        let added = ((root["added_tokens"] as? [[String: Any]]) ?? []).compactMap { entry -> AddedToken? in
            guard let content = entry["content"] as? String, let id = entry["id"] as? Int, !content.isEmpty else {
                return nil
            }
            let normalized = (entry["normalized"] as? Bool) ?? false
            let form = normalized ? normalizer.normalize(content) : content
            return AddedToken(content: Array(form.unicodeScalars), id: Int32(clamping: id), normalized: normalized)
        }
        let (prefix, suffix) = try Self.template(
            root["post_processor"] as? [String: Any],
            vocabulary: vocabulary,
            fail: fail
        )
        self.init(
            vocabulary: vocabulary,
            normalizer: normalizer,
            prefix: prefix,
            suffix: suffix,
            unknownId: unknownId,
            continuingPrefix: (model["continuing_subword_prefix"] as? String) ?? "##",
            maxInputCharactersPerWord: (model["max_input_chars_per_word"] as? Int) ?? 100,
            addedTokens: added
        )
    }

    init(vocabText url: URL, config: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw EmbeddingError.unreadableTokenizer(
                path: url.path,
                reason: "neither tokenizer.json nor vocab.txt exists"
            )
        }
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw EmbeddingError.unreadableTokenizer(path: url.path, reason: "not UTF-8 text")
        }
        // As the reference: the id is the line number, trailing whitespace is dropped.
        var vocabulary = Vocabulary()
        for (i, line) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let token = Array(line.reversed().drop { $0 == 32 || $0 == 9 || $0 == 13 }.reversed())
            if !token.isEmpty { vocabulary[bytes: token] = Int32(clamping: i) }
        }
        // Special tokens as tokenizer_config.json (or special_tokens_map.json) names them.
        let settings = (try? JSONFile.optionalObject(at: config)) ?? nil
        let map =
            (try? JSONFile.optionalObject(
                at: config.deletingLastPathComponent().appendingPathComponent("special_tokens_map.json")
            )) ?? nil
        func special(_ key: String, _ fallbacks: [String]) -> String? {
            for source in [settings, map] {
                if let name = source?[key] as? String { return name }
                if let name = (source?[key] as? [String: Any])?["content"] as? String { return name }
            }
            return fallbacks.first { vocabulary[$0] != nil }
        }
        let lower = (settings?["do_lower_case"] as? Bool) ?? true
        var normalizer = BertNormalizer(lowercase: lower)
        normalizer.stripAccents = (settings?["strip_accents"] as? Bool) ?? lower
        normalizer.handleChineseCharacters = (settings?["tokenize_chinese_chars"] as? Bool) ?? true
        guard let clsName = special("cls_token", ["[CLS]", "<s>"]), let cls = vocabulary[clsName],
            let sepName = special("sep_token", ["[SEP]", "</s>"]), let sep = vocabulary[sepName],
            let unkName = special("unk_token", ["[UNK]", "<unk>"]), let unk = vocabulary[unkName]
        else {
            throw EmbeddingError.unreadableTokenizer(
                path: url.path,
                reason: "the vocabulary lacks the classifier, separator or unknown token"
            )
        }
        let specialNames = ["cls_token", "sep_token", "pad_token", "mask_token", "unk_token"].compactMap {
            special($0, [])
        }
        let added = Set(specialNames + [clsName, sepName, unkName]).compactMap { token in
            vocabulary[token].map { AddedToken(content: Array(token.unicodeScalars), id: $0, normalized: false) }
        }
        self.init(
            vocabulary: vocabulary,
            normalizer: normalizer,
            prefix: [cls],
            suffix: [sep],
            unknownId: unk,
            continuingPrefix: "##",
            maxInputCharactersPerWord: 100,
            addedTokens: added
        )
    }

    init(
        vocabulary: Vocabulary,
        normalizer: BertNormalizer,
        prefix: [Int32],
        suffix: [Int32],
        unknownId: Int32,
        continuingPrefix: String,
        maxInputCharactersPerWord: Int,
        addedTokens: [AddedToken]
    ) {
        self.vocabulary = vocabulary
        self.normalizer = normalizer
        self.prefix = prefix
        self.suffix = suffix
        self.unknownId = unknownId
        self.continuingPrefix = Array(continuingPrefix.utf8)
        self.maxInputCharactersPerWord = maxInputCharactersPerWord
        // Longest first, so that matching is leftmost-longest.
        self.addedTokens = addedTokens.sorted { $0.content.count > $1.content.count }
    }

    /// Every id this tokenizer can produce (for checking against the model's vocabulary size).
    public var producibleIds: [Int32] {
        Array(vocabulary.allIds) + addedTokens.map(\.id) + prefix + suffix + [unknownId]
    }

    /// The ids of `text` with the special tokens, its content truncated so that
    /// the whole is at most `maxLength` ids (as `truncation=True, max_length=…`).
    public func encode(_ text: String, maxLength: Int) -> [Int32] {
        let room = max(0, maxLength - prefix.count - suffix.count)
        var ids = tokenize(text, atLeast: room)
        if ids.count > room { ids.removeSubrange(room...) }
        return prefix + ids + suffix
    }

    /// The ids of `text` without special tokens or truncation.
    public func tokenize(_ text: String) -> [Int32] { tokenize(text, atLeast: .max) }

    /// The first ids of `text`, at least `limit` of them where the text has that many: the text
    /// is tokenized in pieces cut just before a space, and no piece is begun once `limit` ids are
    /// out — so a long document truncated to a model's few hundred tokens costs a few hundred
    /// tokens of work, not the whole text's. Exact: a space ends every word and is dropped,
    /// normalisation is per character (a space is a starter, so no canonical reordering
    /// crosses it), and no added token spans the cut (pieces are not cut when one holds a space).
    func tokenize(_ text: String, atLeast limit: Int) -> [Int32] {
        let scalars = Array(text.unicodeScalars)
        guard limit < .max, !addedTokens.contains(where: { $0.content.contains(" ") }) else {
            var ids: [Int32] = []
            tokenize(piece: scalars, into: &ids)
            return ids
        }
        // Several characters make a token: a piece this long usually holds all that is needed.
        let pieceLength = max(64, limit.multipliedReportingOverflow(by: 8).overflow ? Int.max : limit * 8)
        var ids: [Int32] = []
        var start = 0
        while start < scalars.count && ids.count < limit {
            var end = scalars.count - start > pieceLength ? start + pieceLength : scalars.count
            while end < scalars.count && scalars[end] != " " { end += 1 }
            tokenize(piece: scalars[start..<end], into: &ids)
            start = end
        }
        return ids
    }

    private func tokenize<Scalars: Collection<Unicode.Scalar>>(piece: Scalars, into ids: inout [Int32]) {
        for segment in split(Array(piece), normalized: false) {
            switch segment {
            case .added(let id):
                ids.append(id)
            case .text(let raw):
                let normalized = normalizer.normalize(String(String.UnicodeScalarView(raw)))
                for inner in split(Array(normalized.unicodeScalars), normalized: true) {
                    switch inner {
                    case .added(let id):
                        ids.append(id)
                    case .text(let scalars):
                        for word in BertPreTokenizer.words(String(String.UnicodeScalarView(scalars))) {
                            wordPiece(word, into: &ids)
                        }
                    }
                }
            }
        }
    }

    enum Segment {
        case text(ArraySlice<Unicode.Scalar>)
        case added(Int32)
    }

    /// Cuts `scalars` around the added tokens of the given kind.
    func split(_ scalars: [Unicode.Scalar], normalized: Bool) -> [Segment] {
        let candidates = addedTokens.filter { $0.normalized == normalized }
        guard !candidates.isEmpty else { return [.text(scalars[...])] }
        var segments: [Segment] = []
        var start = 0
        var i = 0
        while i < scalars.count {
            let match = candidates.first { token in
                token.content.count <= scalars.count - i
                    && token.content.elementsEqual(scalars[i..<(i + token.content.count)])
            }
            if let match {
                if start < i { segments.append(.text(scalars[start..<i])) }
                segments.append(.added(match.id))
                i += match.content.count
                start = i
            } else {
                i += 1
            }
        }
        if start < scalars.count { segments.append(.text(scalars[start...])) }
        return segments
    }

    /// Greedy longest-match-first; a word with any unmatched piece, or longer
    /// than `maxInputCharactersPerWord` characters, becomes the unknown token.
    func wordPiece(_ word: Substring.UnicodeScalarView, into ids: inout [Int32]) {
        let scalars = Array(word)
        guard scalars.count <= maxInputCharactersPerWord else {
            ids.append(unknownId)
            return
        }
        let mark = ids.count
        // The word's UTF-8 once, with where each character starts; each candidate piece is a
        // range of it, in one reused buffer.
        var utf8: [UInt8] = []
        var offsets: [Int] = []
        utf8.reserveCapacity(scalars.count * 2)
        offsets.reserveCapacity(scalars.count + 1)
        for scalar in scalars {
            offsets.append(utf8.count)
            UTF8.encode(scalar) { utf8.append($0) }
        }
        offsets.append(utf8.count)
        var piece: [UInt8] = []
        piece.reserveCapacity(continuingPrefix.count + utf8.count)
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var found: Int32?
            while start < end {
                piece.removeAll(keepingCapacity: true)
                if start > 0 { piece.append(contentsOf: continuingPrefix) }
                piece.append(contentsOf: utf8[offsets[start]..<offsets[end]])
                if let id = vocabulary[bytes: piece] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                ids.removeSubrange(mark...)
                ids.append(unknownId)
                return
            }
            ids.append(id)
            start = end
        }
    }

    /// The special tokens around a single sequence, from the post-processor.
    static func template(
        _ processor: [String: Any]?,
        vocabulary: Vocabulary,
        fail: (String) -> EmbeddingError
    ) throws -> ([Int32], [Int32]) {
        guard let processor else {
            guard let cls = vocabulary["[CLS]"], let sep = vocabulary["[SEP]"] else {
                throw fail("no post-processor and no [CLS]/[SEP]")
            }
            return ([cls], [sep])
        }
        switch processor["type"] as? String {
        case "TemplateProcessing":
            guard let single = processor["single"] as? [[String: Any]],
                let specials = processor["special_tokens"] as? [String: [String: Any]]
            else { throw fail("TemplateProcessing without a 'single' template") }
            var prefix: [Int32] = []
            var suffix: [Int32] = []
            var seenSequence = false
            for piece in single {
                if piece["Sequence"] != nil {
                    seenSequence = true
                } else if let special = piece["SpecialToken"] as? [String: Any], let name = special["id"] as? String {
                    guard let ids = specials[name]?["ids"] as? [Int] else {
                        throw fail("template names unknown special token '\(name)'")
                    }
                    if seenSequence {
                        suffix += ids.map(Int32.init(clamping:))
                    } else {
                        prefix += ids.map(Int32.init(clamping:))
                    }
                }
            }
            return (prefix, suffix)
        case "RobertaProcessing", "BertProcessing":
            guard let cls = processor["cls"] as? [Any], let sep = processor["sep"] as? [Any],
                cls.count == 2, sep.count == 2, let clsId = cls[1] as? Int, let sepId = sep[1] as? Int
            else { throw fail("post-processor without cls/sep tokens") }
            return ([Int32(clamping: clsId)], [Int32(clamping: sepId)])
        case let other:
            throw fail("post-processor '\(other ?? "?")' is not supported")
        }
    }
}

extension BertNormalizer {
    fileprivate func with(stripAccents: Bool) -> BertNormalizer {
        var copy = self
        copy.stripAccents = stripAccents
        return copy
    }
}
