import DriftlessTestSupport
import Foundation
import Testing

@testable import Embedding

@Suite("SafeTensors")
struct SafeTensorsTests {
    /// Writes a safetensors file with the given header JSON and data bytes.
    static func write(header: String, data: [UInt8], to url: URL, declaredLength: UInt64? = nil) throws {
        let headerBytes = Array(header.utf8)
        var bytes: [UInt8] = []
        let length = declaredLength ?? UInt64(headerBytes.count)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        bytes += headerBytes + data
        try Data(bytes).write(to: url)
    }

    static func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { v in (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    }

    @Test("F32, F16 and BF16 tensors widen to Float exactly")
    func widening() throws {
        let dir = try TestResources.temporaryDirectory()
        let url = dir.appendingPathComponent("t.safetensors")
        let f32: [Float] = [1.5, -2.25, 3e-5]
        let f16: [Float16] = [0.5, -1.0, 65504]
        let bf16Values: [Float] = [1.0, -0.15625]
        var data = Self.littleEndian(f32.map(\.bitPattern))
        data += Self.littleEndian(f16.map(\.bitPattern))
        data += Self.littleEndian(bf16Values.map { UInt16($0.bitPattern >> 16) })
        let header = """
            {"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},\
            "b":{"dtype":"F16","shape":[3],"data_offsets":[12,18]},"c":{"dtype":"BF16","shape":[1,2],"data_offsets":[18,22]}}
            """
        try Self.write(header: header, data: data, to: url)
        let tensors = try SafeTensors(path: url.path)
        #expect(try tensors.floats("a") == f32)
        #expect(try tensors.floats("b") == f16.map(Float.init))
        #expect(try tensors.floats("c", shape: [1, 2]) == bf16Values)
        #expect(throws: EmbeddingError.tensorShape(path: url.path, tensor: "c", expected: [2], actual: [1, 2])) {
            try tensors.floats("c", shape: [2])
        }
        #expect(throws: EmbeddingError.tensorMissing(path: url.path, tensor: "d")) { try tensors.floats("d") }
    }

    @Test("a file cut short is rejected as truncated, naming the file")
    func truncated() throws {
        let dir = try TestResources.temporaryDirectory()
        let url = dir.appendingPathComponent("t.safetensors")
        try Self.write(
            header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
            data: [UInt8](repeating: 0, count: 10),
            to: url
        )
        let error = #expect(throws: EmbeddingError.self) { try SafeTensors(path: url.path) }
        guard case .truncatedSafeTensors(let path, let expected, let actual) = error else {
            Issue.record("expected truncatedSafeTensors, got \(String(describing: error))")
            return
        }
        #expect(path == url.path)
        #expect(expected > actual)
        #expect(error!.description.contains("truncated"))
    }

    @Test("a header longer than the file is truncated too")
    func truncatedHeader() throws {
        let dir = try TestResources.temporaryDirectory()
        let url = dir.appendingPathComponent("t.safetensors")
        try Self.write(header: "{}", data: [], to: url, declaredLength: 5000)
        #expect(throws: EmbeddingError.truncatedSafeTensors(path: url.path, expectedBytes: 5008, actualBytes: 10)) {
            try SafeTensors(path: url.path)
        }
    }

    @Test(
        "malformed headers are rejected",
        arguments: [
            "not json",
            "[1,2]",
            #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}"#,
            #"{"a":{"dtype":"F32","shape":[2]}}"#,
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
        ]
    )
    func malformed(header: String) throws {
        let dir = try TestResources.temporaryDirectory()
        let url = dir.appendingPathComponent("t.safetensors")
        try Self.write(header: header, data: [UInt8](repeating: 0, count: 16), to: url)
        let error = #expect(throws: EmbeddingError.self) { try SafeTensors(path: url.path) }
        guard case .malformedSafeTensors = error else {
            Issue.record("expected malformedSafeTensors, got \(String(describing: error))")
            return
        }
    }

    @Test("a dtype Driftless does not read is named when the tensor is read, not before")
    func unsupportedDType() throws {
        let dir = try TestResources.temporaryDirectory()
        let url = dir.appendingPathComponent("t.safetensors")
        try Self.write(
            header:
                #"{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#,
            data: [0, 0, 0, 0, 0x80, 0x3F],
            to: url
        )
        let tensors = try SafeTensors(path: url.path)
        #expect(try tensors.floats("b") == [1])
        #expect(throws: EmbeddingError.unsupportedDType(path: url.path, tensor: "a", dtype: "F8_E4M3")) {
            try tensors.floats("a")
        }
        try Self.write(header: #"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}}"#, data: [0, 0], to: url)
        #expect(throws: EmbeddingError.unsupportedDType(path: url.path, tensor: "a", dtype: "Q4")) {
            try SafeTensors(path: url.path)
        }
    }

    @Test("offsets and shapes that overflow are malformed, not a crash")
    func overflow() throws {
        let dir = try TestResources.temporaryDirectory()
        let url = dir.appendingPathComponent("t.safetensors")
        try Self.write(
            header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#,
            data: [UInt8](repeating: 0, count: 16),
            to: url
        )
        #expect(throws: EmbeddingError.self) { try SafeTensors(path: url.path) }
        try Self.write(
            header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775800,9223372036854775804]}}"#,
            data: [0, 0, 0, 0],
            to: url
        )
        let error = #expect(throws: EmbeddingError.self) { try SafeTensors(path: url.path) }
        guard case .truncatedSafeTensors = error else {
            Issue.record("expected truncatedSafeTensors, got \(String(describing: error))")
            return
        }
    }
}
