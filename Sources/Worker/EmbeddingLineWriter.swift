import Foundation

/// Writes `{"id": …, "embedding": […]}` lines (plus `"input_ids"` when asked),
/// buffered, to a file or standard output.
final class EmbeddingLineWriter {
    private let handle: FileHandle
    private let closeOnFinish: Bool
    private var buffer = Data()
    let includeTokens: Bool

    /// `path` "-" writes to standard output. An existing file is replaced.
    init(path: String, includeTokens: Bool) throws {
        self.includeTokens = includeTokens
        if path == "-" {
            handle = FileHandle.standardOutput
            closeOnFinish = false
        } else {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw WorkerError.cannotWrite(path: path)
            }
            guard let handle = FileHandle(forWritingAtPath: path) else { throw WorkerError.cannotWrite(path: path) }
            self.handle = handle
            closeOnFinish = true
        }
    }

    func write(id: String, embedding: [Float], tokens: [Int32]?) throws {
        var line = "{\"id\":" + Self.quoted(id) + ",\"embedding\":["
        line.reserveCapacity(embedding.count * 12 + 64)
        for (i, value) in embedding.enumerated() {
            if i > 0 { line += "," }
            line += value.description
        }
        line += "]"
        if includeTokens, let tokens {
            line += ",\"input_ids\":[" + tokens.map(String.init).joined(separator: ",") + "]"
        }
        line += "}\n"
        buffer.append(contentsOf: line.utf8)
        if buffer.count > 1 << 20 { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func finish() throws {
        try flush()
        if closeOnFinish { try handle.close() }
    }

    /// A JSON string literal.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
