import Foundation

private let path = "/dev/shm/driftless-fuzz-\(getpid()).safetensors"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    if let file = try? SafeTensors(path: path) {
        for name in file.entries.keys { _ = try? file.floats(name) }
    }
    return 0
}
