import CLibZMQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The connection events of one socket, as libzmq's socket monitor reports them (version 1
/// events, read from an inproc PAIR socket). Not thread-safe: keep it with its socket.
///
/// libzmq tells *that* a connection closed, not why: a peer that hung up and a frame refused
/// at its header (over `ZMQ_MAXMSGSIZE`) both end in `disconnected`. The descriptor in
/// `accepted` and `disconnected` is what ties them to one connection.
public final class ZeroMQMonitor {
    public enum Event: Sendable, Equatable {
        /// A listening socket accepted a connection on this descriptor.
        case accepted(descriptor: Int32)
        /// The connection on this descriptor closed, for whatever reason.
        case disconnected(descriptor: Int32)
        /// Any other event (its libzmq number and value).
        case other(event: UInt16, value: UInt32)
    }

    /// The PAIR socket the events arrive on (poll it with the others).
    public let socket: ZeroMQSocket

    init(watching watched: ZeroMQSocket, context: ZeroMQContext) throws(ZeroMQError) {
        let address = "inproc://monitor-\(UUID().uuidString)"
        guard zmq_socket_monitor(watched.handle, address, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) == 0 else {
            throw ZeroMQError("zmq_socket_monitor")
        }
        socket = try context.socket(.pair)
        try socket.connect(address)
    }

    /// The next event, or nil when none is waiting.
    public func next() -> Event? {
        // Two frames: 2 bytes of event number and 4 of value (host order), then an address.
        guard let frames = try? socket.receive(timeout: .zero), frames.count == 2, frames[0].count == 6 else {
            return nil
        }
        let bytes = [UInt8](frames[0])
        let event = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        let value = bytes[2..<6].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        switch Int32(event) {
        case ZMQ_EVENT_ACCEPTED: return .accepted(descriptor: Int32(bitPattern: value))
        case ZMQ_EVENT_DISCONNECTED: return .disconnected(descriptor: Int32(bitPattern: value))
        default: return .other(event: event, value: value)
        }
    }

    /// The remote address (`host:port`) of the TCP connection on `descriptor`, if it is still
    /// open and its local port is `localPort` (a descriptor closed and reused since the event
    /// would otherwise name another connection).
    public static func peerAddress(of descriptor: Int32, localPort: UInt16) -> String? {
        var local = sockaddr_storage()
        var remote = sockaddr_storage()
        var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var remoteLength = localLength
        let found = withUnsafeMutablePointer(to: &local) { localPointer in
            withUnsafeMutablePointer(to: &remote) { remotePointer in
                localPointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { localAddress in
                    remotePointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { remoteAddress in
                        getsockname(descriptor, localAddress, &localLength) == 0
                            && getpeername(descriptor, remoteAddress, &remoteLength) == 0
                    }
                }
            }
        }
        guard found, let (_, port) = hostAndPort(local), port == localPort else { return nil }
        return hostAndPort(remote).map { "\($0.host):\($0.port)" }
    }

    private static func hostAndPort(_ storage: sockaddr_storage) -> (host: String, port: UInt16)? {
        var storage = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    guard inet_ntop(AF_INET, &raw, &buffer, socklen_t(buffer.count)) != nil else { return nil }
                    return (String(cString: buffer), UInt16(bigEndian: address.pointee.sin_port))
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    guard inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count)) != nil else { return nil }
                    return ("[\(String(cString: buffer))]", UInt16(bigEndian: address.pointee.sin6_port))
                }
            }
        default:
            return nil
        }
    }
}

extension ZeroMQSocket {
    /// Starts libzmq's monitor on this socket: accepted and closed connections.
    public func monitor() throws(ZeroMQError) -> ZeroMQMonitor {
        try ZeroMQMonitor(watching: self, context: context)
    }
}
