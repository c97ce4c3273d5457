import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A ZeroMQ peer spoken by hand over a TCP socket (ZMTP 3.0, NULL mechanism, as a DEALER),
/// for tests that must claim sizes no real client would allocate: frame headers announce
/// any length, and the body is streamed from one small buffer until the peer hangs up.
public final class RawZMTPPeer {
    private let descriptor: Int32

    /// Connects to `tcp://127.0.0.1:PORT` and completes the ZMTP handshake.
    public init(endpoint: String) throws {
        guard let port = endpoint.split(separator: ":").last.flatMap({ UInt16($0) }) else {
            throw Failure("no port in \(endpoint)")
        }
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure("connect \(endpoint): errno \(errno)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        try handshake()
    }

    deinit { close(descriptor) }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    private func handshake() throws {
        var greeting: [UInt8] = [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0]
        greeting += Array("NULL".utf8) + [UInt8](repeating: 0, count: 16)
        greeting += [0] + [UInt8](repeating: 0, count: 31)
        guard write(Data(greeting)) else { throw Failure("greeting not sent") }
        _ = try read(64)
        var ready: [UInt8] = [5] + Array("READY".utf8)
        ready += [11] + Array("Socket-Type".utf8) + [0, 0, 0, 6] + Array("DEALER".utf8)
        guard write(Data([0x04, UInt8(ready.count)] + ready)) else { throw Failure("READY not sent") }
        let flags = try read(1)[0]
        let size = flags & 0x02 != 0 ? try read(8).reduce(0) { $0 << 8 | Int($1) } : Int(try read(1)[0])
        _ = try read(size)
    }

    /// Announces a frame of `size` bytes (with `more` frames after it) and streams its body from
    /// `chunk`, repeated. False as soon as the peer stops taking bytes (it closed the connection).
    public func sendFrame(size: UInt64, more: Bool, chunk: Data) -> Bool {
        var header: [UInt8] = [0x02 | (more ? 0x01 : 0)]
        header += (0..<8).reversed().map { UInt8(truncatingIfNeeded: size >> (8 * UInt64($0))) }
        guard write(Data(header)) else { return false }
        var left = size
        while left > 0 {
            let piece = chunk.prefix(Int(min(UInt64(chunk.count), left)))
            guard write(piece) else { return false }
            left -= UInt64(piece.count)
        }
        return true
    }

    private func write(_ data: Data) -> Bool {
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let sent = send(descriptor, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += sent
            }
            return true
        }
    }

    private func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let got = bytes.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress! + offset, count - offset, 0) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { throw Failure("the peer closed the connection during the handshake") }
            offset += got
        }
        return bytes
    }
}
