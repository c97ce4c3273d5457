import Foundation
import ZeroMQ

/// A client of the coordinator's client endpoint: one request, one reply.
/// Not thread-safe (it owns a socket).
public final class CoordinatorClient {
    public let endpoint: String
    private let socket: ZeroMQSocket
    private let context: ZeroMQContext
    /// How long to wait for each reply.
    public var timeout: Duration

    /// `keys`: the coordinator's public key and this client's pair, when the coordinator uses CURVE.
    public init(
        endpoint: String,
        keys: CurveKeyStore.ClientKeys? = nil,
        timeout: Duration = .seconds(30)
    ) throws(ZeroMQError) {
        self.endpoint = endpoint
        self.timeout = timeout
        context = try ZeroMQContext()
        socket = try context.socket(.dealer)
        try socket.setMaximumMessageSize(WireProtocol.maximumMessageSize)
        if let keys { try socket.makeCurveClient(serverKey: keys.serverKey, keys: keys.keys) }
        try socket.connect(endpoint)
    }

    public enum Failure: Error, CustomStringConvertible {
        case timeout(endpoint: String, seconds: Double)
        case socket(ZeroMQError)
        case reply(WireError)

        public var description: String {
            switch self {
            case .timeout(let endpoint, let seconds):
                "no answer from the coordinator at \(endpoint) within \(Int(seconds)) s (is `coord serve` running there? do the keys match?)"
            case .socket(let error): "\(error)"
            case .reply(let error): "the coordinator's reply: \(error)"
            }
        }
    }

    /// Replies owed to requests sent with ``send(_:)`` and not yet taken with ``receive()``.
    public private(set) var pending = 0

    /// Sends `request` and waits for its reply. Nothing may be pending (see ``send(_:)``).
    public func request(_ request: ClientRequest) throws(Failure) -> ClientReply {
        precondition(pending == 0, "a request while \(pending) earlier replies are owed")
        try send(request)
        return try receive()
    }

    /// Sends `request` without waiting: its reply comes, in order, from a later ``receive()``. The
    /// coordinator answers one client's requests one after another, so a client may keep a few in
    /// flight (`coord submit` sends the next chunk while the coordinator stages the last).
    public func send(_ request: ClientRequest) throws(Failure) {
        do { try socket.send([WireProtocol.encode(request)]) } catch { throw .socket(error) }
        pending += 1
    }

    /// The reply to the earliest request still pending. After a timeout or a socket error every owed reply is given
    /// up (one that comes late would pass for a later request's): use the client then only for a
    /// best-effort last word, such as abandoning an upload.
    public func receive() throws(Failure) -> ClientReply {
        precondition(pending > 0, "no reply is owed")
        let frames: [Data]?
        do { frames = try socket.receive(timeout: timeout) } catch {
            pending = 0
            throw .socket(error)
        }
        guard let frames else {
            pending = 0
            throw Failure.timeout(endpoint: endpoint, seconds: Double(timeout.components.seconds))
        }
        pending -= 1
        guard let frame = frames.last else { throw Failure.reply(.malformed("no frames")) }
        do { return try WireProtocol.decode(ClientReply.self, from: frame) } catch { throw Failure.reply(error) }
    }

    /// Takes and drops every pending reply (after a failure, before the next request); gives up
    /// at the first that does not come within the timeout.
    public func discardPending() {
        while pending > 0 { _ = try? receive() }
    }
}
