import Foundation
import ZeroMQ

/// Decides which CURVE clients may connect (the ZAP protocol, RFC 27): libzmq
/// asks on `inproc://zeromq.zap.01` for every handshake, and this answers
/// 200 for a key of a known, unrevoked peer whose role may use that endpoint
/// (the socket's ZAP domain: ``PeerRole/workerDomain`` or ``PeerRole/clientDomain``),
/// with the peer's name as its user id, and 400 for any other.
///
/// Without a ZAP handler libzmq would accept any client that knows the
/// server's public key; with it, only workers and clients given a key.
public final class ZapAuthenticator {
    public static let endpoint = "inproc://zeromq.zap.01"

    public let socket: ZeroMQSocket
    private let peers: PeerDirectory

    /// A handshake that was decided: the peer's address, its key, and whether it was let in.
    public struct Decision: Sendable {
        public var address: String
        public var publicKey: String
        public var allowed: Bool
        public var domain: String
        /// The key's peer, when it is registered.
        public var peer: Peer?
        /// Why it was refused ("key not authorised", "key revoked", "role worker may not use clients").
        public var reason: String
    }

    public init(context: ZeroMQContext, peers: PeerDirectory) throws(ZeroMQError) {
        socket = try context.socket(.reply)
        try socket.bind(Self.endpoint)
        self.peers = peers
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
        let domain = text(2)
        let peer = peers.peer(forKey: key)
        let refusal: String? =
            if text(0) != "1.0" || mechanism != "CURVE" {
                "not a CURVE handshake"
            } else if let peer {
                if peer.revoked {
                    "key of \(peer.name) revoked"
                } else if !peer.role.mayConnect(to: domain) {
                    "\(peer.name) has role \(peer.role.rawValue), which may not use the \(domain) endpoint"
                } else {
                    nil
                }
            } else {
                "key not authorised"
            }
        let allowed = refusal == nil
        let reason = refusal ?? "OK"
        try socket.send([
            Data("1.0".utf8), requestId, Data((allowed ? "200" : "400").utf8),
            Data(reason.utf8), Data((allowed ? peer?.name ?? key : "").utf8), Data(),
        ])
        return Decision(address: text(3), publicKey: key, allowed: allowed, domain: domain, peer: peer, reason: reason)
    }
}
