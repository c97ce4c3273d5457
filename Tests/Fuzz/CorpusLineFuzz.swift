import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCorpusLine(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let record = try? Document.parse(Data(bytes: data, count: size), path: "fuzz.jsonl", line: 1) {
        _ = record.embeddingText
    }
    return 0
}
