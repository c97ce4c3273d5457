import Foundation

/// Writes `{"id": …, "embedding": […]}` lines (plus `"input_ids"` when asked),
/// buffered, to a file or standard output.
///
/// A file is written beside its destination under a temporary name and
/// renamed into place by ``finish()``, so a run that fails leaves any earlier
/// output as it was; ``discard()`` removes the temporary file.
final class EmbeddingLineWriter {
    private let handle: FileHandle
    /// (temporary, final) paths; nil for standard output.
    private let paths: (partial: String, final: String)?
    private var buffer = Data()
    let includeTokens: Bool

    /// `path` "-" writes to standard output.
    init(path: String, includeTokens: Bool) throws {
        self.includeTokens = includeTokens
        if path == "-" {
            handle = FileHandle.standardOutput
            paths = nil
        } else {
            let partial = path + ".partial-\(ProcessInfo.processInfo.processIdentifier)"
            guard FileManager.default.createFile(atPath: partial, contents: nil),
                let handle = FileHandle(forWritingAtPath: partial)
            else { throw WorkerError.cannotWrite(path: path) }
            self.handle = handle
            paths = (partial, path)
        }
    }

    /// True when `a` and `b` name the same existing file (links included).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        guard let x = try? FileManager.default.attributesOfItem(atPath: a),
            let y = try? FileManager.default.attributesOfItem(atPath: b)
        else { return false }
        return (x[.systemNumber] as? Int) == (y[.systemNumber] as? Int)
            && (x[.systemFileNumber] as? Int) == (y[.systemFileNumber] as? Int)
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
        guard let paths else { return }
        try handle.close()
        _ = try? FileManager.default.removeItem(atPath: paths.final)
        do {
            try FileManager.default.moveItem(atPath: paths.partial, toPath: paths.final)
        } catch {
            throw WorkerError.cannotWrite(path: paths.final)
        }
    }

    /// Drops what was written (after a failure).
    func discard() {
        guard let paths else { return }
        try? handle.close()
        try? FileManager.default.removeItem(atPath: paths.partial)
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
