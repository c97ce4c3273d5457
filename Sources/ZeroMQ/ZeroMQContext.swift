import CLibZMQ

/// A libzmq context: owns the I/O threads every socket made from it uses.
/// Thread-safe (libzmq's contexts are); sockets keep their context alive.
public final class ZeroMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws(ZeroMQError) {
        guard let handle = zmq_ctx_new() else { throw ZeroMQError("zmq_ctx_new") }
        self.handle = handle
    }

    deinit {
        // Retries on EINTR; sockets are closed before (each holds a reference).
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    public func socket(_ type: ZeroMQSocket.Kind) throws(ZeroMQError) -> ZeroMQSocket {
        try ZeroMQSocket(context: self, kind: type)
    }
}
