import DriftlessTestSupport
import Foundation
import Testing

@testable import Embedding

@Suite("WordPiece tokenizer")
struct WordPieceTokenizerTests {
    static let vocabulary: [String: Int32] = [
        "[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##aff": 5, "##able": 6, "hello": 7, ",": 8,
        "world": 9, "!": 10, "cafe": 11, "中": 12, "$": 13, "5": 14, "helloworld": 15, "한": 16,
    ]

    static let tokenizer = WordPieceTokenizer(
        vocabulary: Vocabulary(vocabulary),
        normalizer: BertNormalizer(),
        prefix: [2],
        suffix: [3],
        unknownId: 1,
        continuingPrefix: "##",
        maxInputCharactersPerWord: 100,
        addedTokens: [.init(content: Array("[CLS]".unicodeScalars), id: 2, normalized: false)]
    )

    @Test(
        "normalises, splits and matches like BERT",
        arguments: [
            ("unaffable", [4, 5, 6] as [Int32]),
            ("Hello, World!", [7, 8, 9, 10]),
            ("CAFÉ", [11]),
            ("hello\u{200B}world", [15]),  // a format character (zero-width space) is dropped
            ("hello\u{0378}world", [1]),  // an unassigned code point is kept, as the reference keeps it
            ("한", [1]),  // NFD turns the syllable into jamo, which match no entry byte for byte
            ("中中", [12, 12]),
            ("$5", [13, 14]),
            ("unknownword", [1]),
            ("  \t\n ", []),
            ("[CLS]hello", [2, 7]),
        ]
    )
    func tokenize(text: String, expected: [Int32]) {
        #expect(Self.tokenizer.tokenize(text) == expected)
    }

    @Test("truncation keeps the special tokens")
    func truncation() {
        let ids = Self.tokenizer.encode("hello world hello world hello", maxLength: 4)
        #expect(ids == [2, 7, 9, 3])
        #expect(Self.tokenizer.encode("", maxLength: 4) == [2, 3])
    }

    @Test("a word longer than max_input_chars_per_word is unknown")
    func longWord() {
        #expect(Self.tokenizer.tokenize(String(repeating: "un", count: 60)) == [1])
    }
}

/// ``WordPieceTokenizer/encode(_:maxLength:)`` tokenizes only as much of a long text as the
/// truncation keeps (in pieces cut before a space); the ids must be those of the whole text,
/// truncated.
@Suite("Truncated tokenization")
struct TruncatedTokenizationTests {
    @Test(
        "the first ids of a long text are those of the whole text, for every length",
        arguments: ["WordPiece", "byte-level BPE"]
    )
    func prefixOfWhole(kind: String) throws {
        let folder =
            kind == "WordPiece"
            ? URL(fileURLWithPath: TestResources.minilm) : TestResources.fixture("tiny-qwen3-embedding")
        let tokenizer = try TokenizerLoader.load(folder: folder)
        let texts = try TestResources.jsonLines(TestResources.fixture("all-MiniLM-L6-v2.reference.jsonl"))
            .map { $0["text"] as! String }
        // Long texts with what could go wrong at a cut: accents (NFD), combining marks after a
        // space, tabs, no-break spaces, CJK, runs of spaces, a word longer than the word limit.
        let joined = texts.joined(separator: "  \t")
        let tricky = [
            joined,
            String(repeating: "Café naïve \u{0301}résumé  中文字 \u{00A0}x\u{200B}y ", count: 400),
            String(repeating: "a", count: 3000) + " " + joined,
            String(repeating: " ", count: 5000) + "late words after a long run of spaces",
            texts.map { $0.uppercased() }.joined(separator: "\n"),
            // A special token mid-text (matched before splitting, by the BPE tokenizer).
            texts.prefix(3).joined(separator: " <|endoftext|> "),
        ]
        for text in texts + tricky {
            let whole = tokenizer.tokenize(text)
            for length in [3, 8, 64, 128, 256, 512, 4096] {
                let room = length - tokenizer.prefix.count - tokenizer.suffix.count
                let expected = tokenizer.prefix + whole.prefix(room) + tokenizer.suffix
                let got = tokenizer.encode(text, maxLength: length)
                if got != expected {
                    Issue.record(
                        "length \(length), text \(text.prefix(60))…: \(got.count) ids differ from the whole text's"
                    )
                    return
                }
            }
        }
    }
}
