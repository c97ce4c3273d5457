/// The pre-tokenizer of GPT-style byte-level BPE tokenizers: the `Split` regex of Qwen2/Qwen3
/// and of cl100k / Llama 3, written out as a scanner over Unicode scalars.
///
/// The pattern
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
/// (with `\p{N}{1,3}` in cl100k's) is matched leftmost-first as the reference's regex engine
/// (Oniguruma) does: at each position the first alternative that matches wins, each greedy
/// with backtracking. `\s` is Unicode's White_Space, `\p{L}` and `\p{N}` the letter and number
/// categories. A scanner rather than a regex engine, because the reference's and Foundation's
/// (ICU's) engines disagree on what `\s` means, and because it is several times faster.
struct ByteLevelSplitter: Sendable, Equatable {
    /// Most digits in one piece: 1 (Qwen2) or 3 (cl100k, Llama 3).
    let digitRun: Int

    static let qwen2 = ByteLevelSplitter(digitRun: 1)
    static let cl100k = ByteLevelSplitter(digitRun: 3)

    static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let cl100kPattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The splitter for a `Split` pre-tokenizer's regex, or nil for a pattern it does not know.
    init?(pattern: String) {
        switch pattern {
        case Self.qwen2Pattern: self = .qwen2
        case Self.cl100kPattern: self = .cl100k
        default: return nil
        }
    }

    private init(digitRun: Int) { self.digitRun = digitRun }

    /// The pieces of `s`, as ranges that together cover it.
    func split(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var i = 0
        while i < s.count {
            let end = match(s, at: i)
            pieces.append(i..<end)
            i = end
        }
        return pieces
    }

    /// The end of the match that starts at `i` (every position has one).
    private func match(_ s: [Unicode.Scalar], at i: Int) -> Int {
        let n = s.count
        let c = s[i]
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if c == "'" && i + 1 < n {
            let a = Self.folded(s[i + 1])
            if a == "s" || a == "t" || a == "m" || a == "d" { return i + 2 }
            if i + 2 < n {
                let b = Self.folded(s[i + 2])
                if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return i + 3 }
            }
        }
        let kind = Self.kind(c)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        var start = i
        if kind != .letter && kind != .number && c != "\r" && c != "\n" { start = i + 1 }
        if start < n && Self.kind(s[start]) == .letter {
            var end = start + 1
            while end < n && Self.kind(s[end]) == .letter { end += 1 }
            return end
        }
        // \p{N} or \p{N}{1,3}
        if kind == .number {
            var end = i + 1
            while end < n && end - i < digitRun && Self.kind(s[end]) == .number { end += 1 }
            return end
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        start = (c == " " && i + 1 < n && Self.kind(s[i + 1]) == .other) ? i + 1 : i
        if Self.kind(s[start]) == .other {
            var end = start + 1
            while end < n && Self.kind(s[end]) == .other { end += 1 }
            while end < n && (s[end] == "\r" || s[end] == "\n") { end += 1 }
            return end
        }
        // Only white space is left.
        var end = i + 1
        while end < n && Self.kind(s[end]) == .space { end += 1 }
        // \s*[\r\n]+ : up to the run's last line break.
        if let last = (i..<end).last(where: { s[$0] == "\r" || s[$0] == "\n" }) { return last + 1 }
        // \s+(?!\S) : the run less its last character when something follows it.
        if end < n && end - i >= 2 { return end - 1 }
        // \s+
        return end
    }

    private enum Kind { case letter, number, space, other }

    private static func kind(_ c: Unicode.Scalar) -> Kind {
        if c.isASCII {
            switch c.value {
            case 0x41...0x5A, 0x61...0x7A: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0D, 0x20: return .space
            default: return .other
            }
        }
        let properties = c.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return properties.isWhitespace ? .space : .other
        }
    }

    /// Case folding as far as the contractions need it (ſ folds to s).
    private static func folded(_ c: Unicode.Scalar) -> Unicode.Scalar {
        if c.value >= 0x41 && c.value <= 0x5A { return Unicode.Scalar(c.value + 0x20)! }
        return c == "\u{017F}" ? "s" : c
    }
}
