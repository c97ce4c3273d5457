import Foundation

private let folder = URL(fileURLWithPath: "/dev/shm/driftless-fuzz-tokenizer-\(getpid())")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let file = folder.appendingPathComponent("tokenizer.json")
    guard FileManager.default.createFile(atPath: file.path, contents: Data(bytes: data, count: size)) else { return 0 }
    if let tokenizer = try? WordPieceTokenizer(folder: folder) {
        _ = tokenizer.encode("Hello, world! Ünïcödé 漢字 don't", maxLength: 32)
    }
    return 0
}
