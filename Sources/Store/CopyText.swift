import Foundation

/// Builds `COPY … FROM STDIN` data in PostgreSQL's text format: tab-separated
/// columns, one row per line, `\N` for NULL, backslash escapes.
public struct CopyText {
    public private(set) var data = Data()

    public init() {}

    public mutating func appendRow(_ columns: [String?]) {
        for (index, column) in columns.enumerated() {
            if index > 0 { data.append(0x09) }
            guard let column else {
                data.append(contentsOf: [0x5C, 0x4E])
                continue
            }
            for byte in column.utf8 {
                switch byte {
                case 0x5C: data.append(contentsOf: [0x5C, 0x5C])
                case 0x09: data.append(contentsOf: [0x5C, 0x74])
                case 0x0A: data.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: data.append(contentsOf: [0x5C, 0x72])
                default: data.append(byte)
                }
            }
        }
        data.append(0x0A)
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
