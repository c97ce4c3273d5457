import Foundation

/// Builds `COPY … FROM STDIN` data in PostgreSQL's text format: tab-separated
/// columns, one row per line, `\N` for NULL, backslash escapes.
public struct CopyText {
    /// The rows so far. Bytes go into an array and runs without a character to escape are copied
    /// whole: appending to `Data` byte by byte cost a worker a quarter of its time at a few
    /// thousand documents a second.
    private var bytes: [UInt8] = []

    public init() {}

    /// The COPY data.
    public var data: Data { Data(bytes) }

    public mutating func appendRow(_ columns: [String?]) {
        for (index, column) in columns.enumerated() {
            if index > 0 { bytes.append(0x09) }
            guard var column else {
                bytes.append(contentsOf: [0x5C, 0x4E])
                continue
            }
            column.withUTF8 { append(escaping: $0) }
        }
        bytes.append(0x0A)
    }

    private mutating func append(escaping text: UnsafeBufferPointer<UInt8>) {
        var run = 0
        for (index, byte) in text.enumerated() {
            let escaped: UInt8
            switch byte {
            case 0x5C: escaped = 0x5C
            case 0x09: escaped = 0x74
            case 0x0A: escaped = 0x6E
            case 0x0D: escaped = 0x72
            default: continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[run..<index]))
            bytes.append(0x5C)
            bytes.append(escaped)
            run = index + 1
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[run...]))
    }

    /// A pgvector literal, `[0.1,0.2,…]`, with each float's shortest exact text.
    public static func vector(_ values: [Float]) -> String {
        var text = "["
        text.reserveCapacity(values.count * 12)
        for (index, value) in values.enumerated() {
            if index > 0 { text += "," }
            text += value.description
        }
        return text + "]"
    }

    /// A PostgreSQL text array literal (`{"a","b"}`), for a `$n::text[]` parameter.
    public static func textArray(_ values: [String]) -> String {
        "{"
            + values.map {
                "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                    + "\""
            }
            .joined(separator: ",") + "}"
    }

    /// Parses a pgvector literal back into floats.
    public static func parseVector(_ text: String) -> [Float] {
        text.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",").compactMap { Float($0) }
    }
}
