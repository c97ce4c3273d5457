import Foundation

private let path = "/dev/shm/driftless-fuzz-qrels-\(getpid()).tsv"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQrels(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    _ = try? RelevanceJudgments.load(path: path)
    return 0
}
