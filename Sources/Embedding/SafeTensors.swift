import Foundation

/// A safetensors file, memory-mapped; tensors are widened to `Float` on demand.
///
/// Layout: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping
/// tensor names to `{dtype, shape, data_offsets}`, then the data; offsets count
/// from the first byte after the header.
public struct SafeTensors: Sendable {
    /// The dtypes Driftless reads; others may sit in a file and fail only when read.
    public enum DType: String, Sendable {
        case f32 = "F32"
        case f16 = "F16"
        case bf16 = "BF16"
        case i64 = "I64"
    }

    public struct Entry: Sendable {
        /// The dtype as the header names it.
        public let dtypeName: String
        public let shape: [Int]
        let range: Range<Int>

        public var dtype: DType? { DType(rawValue: dtypeName) }
    }

    /// Bytes per element of every dtype the format defines.
    static let byteWidths: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
    ]

    public let path: String
    public let entries: [String: Entry]
    private let data: Data
    private let dataStart: Int

    /// Maps `path` and validates its header: every tensor's byte range must lie
    /// inside the file and match its dtype and shape.
    public init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw EmbeddingError.fileMissing(path: path)
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw EmbeddingError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        guard data.count >= 8 else {
            throw EmbeddingError.truncatedSafeTensors(path: path, expectedBytes: 8, actualBytes: data.count)
        }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * UInt64($1.offset))
        }
        guard headerLength <= 100_000_000 else {
            throw EmbeddingError.malformedSafeTensors(
                path: path,
                reason: "header length \(headerLength) is implausible"
            )
        }
        let dataStart = 8 + Int(headerLength)
        guard data.count >= dataStart else {
            throw EmbeddingError.truncatedSafeTensors(path: path, expectedBytes: dataStart, actualBytes: data.count)
        }
        let header: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) as? [String: Any]
            else {
                throw EmbeddingError.malformedSafeTensors(path: path, reason: "header is not a JSON object")
            }
            header = object
        } catch let error as EmbeddingError {
            throw error
        } catch {
            throw EmbeddingError.malformedSafeTensors(path: path, reason: "header is not valid JSON")
        }
        var entries: [String: Entry] = [:]
        var end = 0
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any],
                let dtypeName = info["dtype"] as? String,
                let shape = info["shape"] as? [Int],
                let offsets = info["data_offsets"] as? [Int], offsets.count == 2,
                offsets[0] >= 0, offsets[0] <= offsets[1]
            else {
                throw EmbeddingError.malformedSafeTensors(
                    path: path,
                    reason: "tensor '\(name)' has an invalid header entry"
                )
            }
            guard let width = Self.byteWidths[dtypeName] else {
                throw EmbeddingError.unsupportedDType(path: path, tensor: name, dtype: dtypeName)
            }
            // Sizes come from the file: multiply without overflowing.
            var bytes = width
            for dimension in shape {
                let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
                guard dimension >= 0, !overflow else {
                    throw EmbeddingError.malformedSafeTensors(
                        path: path,
                        reason: "tensor '\(name)' has an impossible shape \(shape)"
                    )
                }
                bytes = product
            }
            guard offsets[1] - offsets[0] == bytes else {
                throw EmbeddingError.malformedSafeTensors(
                    path: path,
                    reason: "tensor '\(name)' has \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtypeName)"
                )
            }
            entries[name] = Entry(dtypeName: dtypeName, shape: shape, range: offsets[0]..<offsets[1])
            end = max(end, offsets[1])
        }
        guard end <= data.count - dataStart else {
            throw EmbeddingError.truncatedSafeTensors(
                path: path,
                expectedBytes: end > Int.max - dataStart ? Int.max : dataStart + end,
                actualBytes: data.count
            )
        }
        self.entries = entries
        self.data = data
        self.dataStart = dataStart
    }

    /// The tensor `name` widened to `Float`, checked against `shape` when given.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        guard let entry = entries[name] else {
            throw EmbeddingError.tensorMissing(path: path, tensor: name)
        }
        if let expected, expected != entry.shape {
            throw EmbeddingError.tensorShape(path: path, tensor: name, expected: expected, actual: entry.shape)
        }
        guard let dtype = entry.dtype else {
            throw EmbeddingError.unsupportedDType(path: path, tensor: name, dtype: entry.dtypeName)
        }
        let count = entry.shape.reduce(1, *)
        let start = dataStart + entry.range.lowerBound
        return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Float] in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[start..<(start + entry.range.count)])
            return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                switch dtype {
                case .f32:
                    for i in 0..<count {
                        out[i] = Float(
                            bitPattern: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian
                        )
                    }
                case .f16:
                    for i in 0..<count {
                        out[i] = Float(
                            Float16(
                                bitPattern: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                            )
                        )
                    }
                case .bf16:
                    for i in 0..<count {
                        let bits = bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                        out[i] = Float(bitPattern: UInt32(bits) << 16)
                    }
                case .i64:
                    for i in 0..<count {
                        out[i] = Float(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                    }
                }
                initialized = count
            }
        }
    }

    /// Calls `body` with the whole file's bytes (header included).
    func withFileBytes<R>(_ body: (Data) -> R) -> R { body(data) }

    /// The shape of tensor `name`, if present.
    public func shape(_ name: String) -> [Int]? { entries[name]?.shape }
}
