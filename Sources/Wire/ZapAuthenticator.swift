import Foundation
import ZeroMQ

/// Decides which CURVE clients may connect (the ZAP protocol, RFC 27): libzmq
/// asks on `inproc://zeromq.zap.01` for every handshake, and this answers
/// 200 for public keys in `authorizedKeys`, 400 for any other.
///
/// Without a ZAP handler libzmq would accept any client that knows the
/// server's public key; with it, only workers and clients given a key.
public final class ZapAuthenticator {
    public static let endpoint = "inproc://zeromq.zap.01"

    public let socket: ZeroMQSocket
    private let authorizedKeys: Set<String>

    /// A handshake that was decided: the peer's address, its key, and whether it was let in.
    public struct Decision: Sendable {
        public var address: String
        public var publicKey: String
        public var allowed: Bool
        public var domain: String
    }

    public init(context: ZeroMQContext, authorizedKeys: Set<String>) throws(ZeroMQError) {
        socket = try context.socket(.reply)
        try socket.bind(Self.endpoint)
        self.authorizedKeys = authorizedKeys
    }

    /// Answers one waiting request, if any; returns what was decided.
    public func answerPending() throws(ZeroMQError) -> Decision? {
        guard let frames = try socket.receive(timeout: .zero) else { return nil }
        func text(_ index: Int) -> String {
            index < frames.count ? String(decoding: frames[index], as: UTF8.self) : ""
        }
        let requestId = frames.count > 1 ? frames[1] : Data()
        let mechanism = text(5)
        let key = frames.count > 6 ? CurveKeyPair.z85(Array(frames[6])) ?? "" : ""
        let allowed = text(0) == "1.0" && mechanism == "CURVE" && authorizedKeys.contains(key)
        try socket.send([
            Data("1.0".utf8), requestId, Data((allowed ? "200" : "400").utf8),
            Data((allowed ? "OK" : "key not authorised").utf8), Data(key.utf8), Data(),
        ])
        return Decision(address: text(3), publicKey: key, allowed: allowed, domain: text(2))
    }
}
