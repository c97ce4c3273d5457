import Foundation

/// Text to token ids, as the model folder's tokenizer does it: ``WordPieceTokenizer`` for
/// BERT-style encoders, ``ByteLevelBPETokenizer`` for GPT-style (Qwen, Llama) decoders.
public protocol TextTokenizer: Sendable {
    /// Ids placed before and after a single sequence (`[CLS]` … `[SEP]`, … `<|endoftext|>`).
    var prefix: [Int32] { get }
    var suffix: [Int32] { get }
    /// Every id the tokenizer can produce (checked against the model's vocabulary size).
    var producibleIds: [Int32] { get }
    /// The ids of `text` with the special tokens, its content truncated so that the whole is
    /// at most `maxLength` ids; the special tokens are kept.
    func encode(_ text: String, maxLength: Int) -> [Int32]
    /// The ids of `text` without special tokens or truncation.
    func tokenize(_ text: String) -> [Int32]
}

extension WordPieceTokenizer: TextTokenizer {}

/// Picks the tokenizer a model folder asks for.
public enum TokenizerLoader {
    /// `tokenizer.json`'s model type decides: "WordPiece" (or a `vocab.txt` folder) or "BPE".
    public static func load(folder: URL) throws -> any TextTokenizer {
        let json = folder.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: json.path) else { return try WordPieceTokenizer(folder: folder) }
        let root = try TokenizerJSON.root(at: json)
        let type = ((root["model"] as? [String: Any])?["type"] as? String) ?? "WordPiece"
        switch type {
        case "WordPiece": return try WordPieceTokenizer(tokenizerJSON: json, root: root)
        case "BPE": return try ByteLevelBPETokenizer(folder: folder, root: root)
        default:
            throw EmbeddingError.unreadableTokenizer(
                path: json.path,
                reason: "model type '\(type)' is not supported (WordPiece and byte-level BPE are)"
            )
        }
    }
}

/// Reads `tokenizer.json` once.
enum TokenizerJSON {
    static func root(at url: URL) throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EmbeddingError.unreadableTokenizer(path: url.path, reason: "cannot be read")
        }
        guard let value = try? JSONSerialization.jsonObject(with: data) else {
            throw EmbeddingError.unreadableTokenizer(path: url.path, reason: "not valid JSON")
        }
        guard let object = value as? [String: Any] else {
            throw EmbeddingError.unreadableTokenizer(path: url.path, reason: "not a JSON object")
        }
        return object
    }
}
