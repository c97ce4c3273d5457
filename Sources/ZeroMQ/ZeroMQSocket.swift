import CLibZMQ
import Foundation

/// One libzmq socket. Not thread-safe: keep it on one thread.
/// Messages are lists of frames (`[Data]`); closing happens in `deinit`
/// with a short linger so that a process never hangs on exit.
public final class ZeroMQSocket {
    public enum Kind: Int32, Sendable {
        case pair = 0
        case request = 3
        case reply = 4
        case dealer = 5
        case router = 6
        case stream = 11
    }

    let handle: UnsafeMutableRawPointer
    let context: ZeroMQContext
    public let kind: Kind

    init(context: ZeroMQContext, kind: Kind) throws(ZeroMQError) {
        guard let handle = zmq_socket(context.handle, kind.rawValue) else { throw ZeroMQError("zmq_socket") }
        self.handle = handle
        self.context = context
        self.kind = kind
        try setOption(ZMQ_LINGER, Int32(200))
    }

    deinit { zmq_close(handle) }

    // MARK: Options

    public func setOption(_ option: Int32, _ value: Int32) throws(ZeroMQError) {
        var value = value
        guard zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size) == 0 else {
            throw ZeroMQError("zmq_setsockopt(\(option))")
        }
    }

    public func setOption(_ option: Int32, _ value: Int64) throws(ZeroMQError) {
        var value = value
        guard zmq_setsockopt(handle, option, &value, MemoryLayout<Int64>.size) == 0 else {
            throw ZeroMQError("zmq_setsockopt(\(option))")
        }
    }

    public func setOption(_ option: Int32, _ value: String) throws(ZeroMQError) {
        let bytes = Array(value.utf8)
        let status = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard status == 0 else { throw ZeroMQError("zmq_setsockopt(\(option))") }
    }

    /// The identity this socket presents to a ROUTER peer.
    public func setRoutingId(_ id: String) throws(ZeroMQError) { try setOption(ZMQ_ROUTING_ID, id) }

    /// A ROUTER fails sends to unknown peers (instead of dropping them silently).
    public func setRouterMandatory() throws(ZeroMQError) { try setOption(ZMQ_ROUTER_MANDATORY, Int32(1)) }

    /// The largest message accepted; bigger ones drop the connection.
    public func setMaximumMessageSize(_ bytes: Int64) throws(ZeroMQError) { try setOption(ZMQ_MAXMSGSIZE, bytes) }

    /// Makes this socket a CURVE server with `secretKey` (Z85, 40 characters).
    public func makeCurveServer(secretKey: String, authenticationDomain: String) throws(ZeroMQError) {
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, secretKey)
        try setOption(ZMQ_ZAP_DOMAIN, authenticationDomain)
    }

    /// Makes this socket a CURVE client of the server with `serverKey` (Z85 keys).
    public func makeCurveClient(serverKey: String, keys: CurveKeyPair) throws(ZeroMQError) {
        try setOption(ZMQ_CURVE_SERVERKEY, serverKey)
        try setOption(ZMQ_CURVE_PUBLICKEY, keys.publicKey)
        try setOption(ZMQ_CURVE_SECRETKEY, keys.secretKey)
    }

    // MARK: Endpoints

    public func bind(_ endpoint: String) throws(ZeroMQError) {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZeroMQError("bind \(endpoint)") }
    }

    public func connect(_ endpoint: String) throws(ZeroMQError) {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZeroMQError("connect \(endpoint)") }
    }

    /// The endpoint actually bound (resolves a `tcp://127.0.0.1:*` wildcard port).
    public var lastEndpoint: String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return "" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Messages

    /// Sends the frames as one message. With `wait: false` a full queue throws
    /// an error whose `wouldBlock` is true.
    public func send(_ frames: [Data], wait: Bool = true) throws(ZeroMQError) {
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            if !wait { flags |= ZMQ_DONTWAIT }
            while frame.withUnsafeBytes({ zmq_send(handle, $0.baseAddress, $0.count, flags) }) < 0 {
                let code = zmq_errno()
                if code != EINTR { throw ZeroMQError("send", code: code) }
            }
        }
    }

    /// The next whole message, or nil when none arrives before `timeout`
    /// (nil timeout: wait for ever; zero: do not wait).
    public func receive(timeout: Duration? = nil) throws(ZeroMQError) -> [Data]? {
        switch try receive(timeout: timeout, maximumFrames: .max, maximumBytes: .max) {
        case .message(let frames, _, _): frames
        case .oversized, nil: nil
        }
    }

    /// A message as received under bounds: its frames, or how large it was when over them.
    public enum BoundedMessage: Sendable, Equatable {
        /// `userId`: what the ZAP handler named the peer when it let it in (nil without ZAP);
        /// `connection`: the descriptor of the TCP connection it came on (nil when not TCP),
        /// as in ``ZeroMQMonitor``'s events.
        case message([Data], userId: String?, connection: Int32?)
        /// More frames or bytes than allowed: none of it was copied (the frames are consumed).
        case oversized(frames: Int, bytes: Int, connection: Int32?)
    }

    /// The next whole message, unless it has more than `maximumFrames` frames or
    /// `maximumBytes` bytes in all: such a message is read to its end and dropped
    /// without copying (libzmq delivers all of a message's frames or none).
    public func receive(
        timeout: Duration?,
        maximumFrames: Int,
        maximumBytes: Int
    ) throws(ZeroMQError) -> BoundedMessage? {
        if let timeout, try !poll(timeout: timeout) { return nil }
        var frames: [Data] = []
        var count = 0
        var total = 0
        var userId: String?
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        while true {
            if zmq_msg_recv(&message, handle, 0) < 0 {
                let code = zmq_errno()
                if code == EINTR { continue }
                throw ZeroMQError("receive", code: code)
            }
            let size = zmq_msg_size(&message)
            count += 1
            total = total.addingReportingOverflow(size).partialValue
            if count <= maximumFrames && total <= maximumBytes {
                frames.append(size == 0 ? Data() : Data(bytes: zmq_msg_data(&message), count: size))
            } else {
                frames = []
            }
            if zmq_msg_more(&message) == 0 {
                if let property = zmq_msg_gets(&message, "User-Id") { userId = String(cString: property) }
                let descriptor = zmq_msg_get(&message, ZMQ_SRCFD)
                return count <= maximumFrames && total <= maximumBytes
                    ? .message(frames, userId: userId, connection: descriptor >= 0 ? descriptor : nil)
                    : .oversized(frames: count, bytes: total, connection: descriptor >= 0 ? descriptor : nil)
            }
        }
    }

    /// Whether a message is waiting (or arrives within `timeout`).
    public func poll(timeout: Duration) throws(ZeroMQError) -> Bool {
        try ZeroMQPoller.readable([self], timeout: timeout)[0]
    }
}
