import Foundation

/// Builds `COPY … FROM STDIN (FORMAT binary)` data: a signature and header, then per row a
/// field count and each field as a length and its bytes in the type's binary form (big-endian),
/// `-1` for NULL, and a trailer. The server parses no numbers from text: a pgvector `vector`
/// is `int16` dimension, `int16` 0, then each float's 4 bytes.
public struct CopyBinary {
    private var bytes: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]

    public init() {}

    /// The COPY data, trailer included.
    public var data: Data { Data(bytes + [0xFF, 0xFF]) }

    public mutating func beginRow(fields: Int) { append(UInt16(fields)) }

    public mutating func text(_ value: String?) {
        guard var value else { return append(UInt32(bitPattern: -1)) }
        value.withUTF8 {
            append(UInt32($0.count))
            bytes.append(contentsOf: $0)
        }
    }

    /// `jsonb`'s binary form: a version byte (1), then the JSON text.
    public mutating func jsonb(_ value: String) {
        var value = value
        value.withUTF8 {
            append(UInt32($0.count + 1))
            bytes.append(1)
            bytes.append(contentsOf: $0)
        }
    }

    public mutating func bigint(_ value: Int64) {
        append(UInt32(8))
        append(UInt64(bitPattern: value))
    }

    public mutating func vector(_ values: [Float]) {
        append(UInt32(4 + 4 * values.count))
        append(UInt16(values.count))
        append(UInt16(0))
        for value in values { append(value.bitPattern) }
    }

    private mutating func append(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    private mutating func append(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func append(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}
