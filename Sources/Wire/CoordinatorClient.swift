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

    /// Sends `request` and waits for its reply.
    public func request(_ request: ClientRequest) throws(Failure) -> ClientReply {
        do {
            try socket.send([WireProtocol.encode(request)])
            guard let frames = try socket.receive(timeout: timeout) else {
                throw Failure.timeout(endpoint: endpoint, seconds: Double(timeout.components.seconds))
            }
            guard let frame = frames.last else { throw Failure.reply(.malformed("no frames")) }
            do { return try WireProtocol.decode(ClientReply.self, from: frame) } catch { throw Failure.reply(error) }
        } catch let error as Failure {
            throw error
        } catch let error as ZeroMQError {
            throw .socket(error)
        } catch {
            throw .reply(.malformed("\(error)"))
        }
    }
}
