import Foundation

/// A line of a JSONL corpus (BEIR format: `_id` or `id`, `text`, optional `title`; any other
/// fields are metadata), read as a document (or a query).
extension Document {
    /// Parses one line. `path` and `line` only label errors.
    public static func parse(_ bytes: Data, path: String, line: Int) throws(CorpusError) -> Document {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .invalidUTF8(path: path, line: line) }
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: bytes, options: [.fragmentsAllowed])
        } catch {
            throw .invalidJSON(path: path, line: line)
        }
        guard var object = value as? [String: Any] else { throw .notAnObject(path: path, line: line) }
        guard let id = identifier(object["_id"] ?? object["id"]) else { throw .missingId(path: path, line: line) }
        if id.contains("\u{0}") { throw .nulCharacter(path: path, line: line, id: nil, field: "the id") }
        guard let text = object["text"] as? String else { throw .missingText(path: path, line: line, id: id) }
        let title = (object["title"] as? String) ?? ""
        for (field, value) in [("the text", text), ("the title", title)] where value.contains("\u{0}") {
            throw .nulCharacter(path: path, line: line, id: id, field: field)
        }
        for key in ["_id", "id", "text", "title"] { object.removeValue(forKey: key) }
        let metadata = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        // Serialised JSON escapes a NUL as \u0000 (a key or a string value anywhere inside), which jsonb refuses.
        if metadata.range(of: Data("\\u0000".utf8)) != nil {
            throw .nulCharacter(path: path, line: line, id: id, field: "the metadata")
        }
        return Document(
            line: line,
            id: id,
            title: title,
            text: text,
            metadata: String(decoding: metadata, as: UTF8.self)
        )
    }

    private static func identifier(_ value: Any?) -> String? {
        switch value {
        case let string as String where !string.isEmpty: string
        case let number as Int: String(number)
        default: nil
        }
    }
}
