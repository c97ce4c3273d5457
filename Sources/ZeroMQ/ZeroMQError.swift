import CLibZMQ

/// A failed libzmq call, with libzmq's own message (`zmq_strerror`).
public struct ZeroMQError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let code: Int32
    public let message: String

    init(_ operation: String, code: Int32 = zmq_errno()) {
        self.operation = operation
        self.code = code
        self.message = String(cString: zmq_strerror(code))
    }

    /// The call would have blocked (EAGAIN): no message, or a full queue.
    public var wouldBlock: Bool { code == EAGAIN }
    /// The peer cannot be routed to (EHOSTUNREACH on a ROUTER with ROUTER_MANDATORY).
    public var unroutable: Bool { code == EHOSTUNREACH }

    public var description: String { "ZeroMQ \(operation): \(message)" }
}
