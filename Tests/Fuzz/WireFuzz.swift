import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    _ = try? WireProtocol.decode(WorkerMessage.self, from: bytes)
    _ = try? WireProtocol.decode(ClientRequest.self, from: bytes)
    _ = try? WireProtocol.decode(CoordinatorMessage.self, from: bytes)
    _ = try? WireProtocol.decode(ClientReply.self, from: bytes)
    return 0
}
