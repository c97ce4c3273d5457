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
