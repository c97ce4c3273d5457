import CLibZMQ

/// Waits on several sockets at once (`zmq_poll`).
public enum ZeroMQPoller {
    /// For each socket, whether a message can be received; waits at most `timeout`.
    public static func readable(_ sockets: [ZeroMQSocket], timeout: Duration) throws(ZeroMQError) -> [Bool] {
        var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
        let milliseconds = max(
            0,
            timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        )
        while zmq_poll(&items, Int32(items.count), Int(milliseconds)) < 0 {
            let code = zmq_errno()
            guard code == EINTR else { throw ZeroMQError("zmq_poll", code: code) }
        }
        return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
