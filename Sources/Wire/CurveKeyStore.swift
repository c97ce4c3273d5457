import Foundation
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// The CURVE keys of a deployment, in a folder that `coord keys` manages:
///
///     coordinator.public   the coordinator's public key (give it to workers and clients)
///     coordinator.secret   the coordinator's secret key (stays with the coordinator)
///     peers                one peer a line: NAME ROLE PUBLIC-KEY [revoked] (``PeerRegistry``)
///     peers.d/NAME/        what `coord keys add NAME` hands that peer: coordinator.public,
///                          client.public and client.secret (its `--keys` folder)
///
/// The old layout (`coord keys --out`: one client pair shared by all, `authorized_keys`) is
/// still read; its keys may connect to both endpoints. Keys are Z85 text, 40 characters.
/// Secret files are created mode 0600 and refused when others can read them.
public struct CurveKeyStore: Sendable {
    public let folder: URL

    public init(folder: String) { self.folder = URL(fileURLWithPath: folder, isDirectory: true) }

    /// What a coordinator needs: its own pair and the peers it lets in.
    public struct ServerKeys: Sendable {
        public var keys: CurveKeyPair
        public var peers: PeerDirectory
        /// True for the old layout (one shared pair, `authorized_keys`, no roles).
        public var legacy: Bool
    }

    public var registry: PeerRegistry { PeerRegistry(path: path("peers")) }

    /// `coord keys init`: the coordinator's pair and an empty peer list; refuses to overwrite.
    public func initialize() throws -> CurveKeyPair {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["coordinator.secret", "peers"] where FileManager.default.fileExists(atPath: path(name)) {
            throw WireSetupError.keys("\(path(name)) exists; this folder is already initialised")
        }
        let server = try CurveKeyPair.generate()
        try write("coordinator.secret", server.secretKey + "\n", secret: true)
        try write("coordinator.public", server.publicKey + "\n", secret: false)
        try registry.save([])
        return server
    }

    /// `coord keys add`: a new pair for `name` with `role`, registered, and written with the
    /// coordinator's public key into `out` (default `peers.d/NAME`): the peer's `--keys` folder.
    public func addPeer(name: String, role: PeerRole, out: String? = nil) throws -> (peer: Peer, folder: String) {
        guard Peer.isValidName(name) else {
            throw WireSetupError.keys("\(name): a peer name has 1 to 64 letters, digits, '.', '_' or '-'")
        }
        guard role != .legacy else { throw WireSetupError.keys("the roles are worker, client and admin") }
        var peers = try registry.load()
        guard !peers.contains(where: { $0.name == name }) else {
            throw WireSetupError.keys(
                "a peer named \(name) exists in \(registry.path) (revoke it, or choose another name)"
            )
        }
        let serverKey = try key("coordinator.public")
        let pair = try CurveKeyPair.generate()
        let target = CurveKeyStore(folder: out ?? path("peers.d/\(name)"))
        try FileManager.default.createDirectory(at: target.folder, withIntermediateDirectories: true)
        try target.write("coordinator.public", serverKey + "\n", secret: false)
        try target.write("client.public", pair.publicKey + "\n", secret: false)
        try target.write("client.secret", pair.secretKey + "\n", secret: true)
        let peer = Peer(name: name, role: role, publicKey: pair.publicKey)
        peers.append(peer)
        try registry.save(peers)
        return (peer, target.folder.path)
    }

    /// `coord keys revoke`: the peer's key is refused from now on (a running coordinator
    /// re-reads the list; connections it already has stop counting at their next message).
    public func revoke(name: String) throws -> Peer {
        var peers = try registry.load()
        guard let index = peers.firstIndex(where: { $0.name == name }) else {
            throw WireSetupError.keys("no peer named \(name) in \(registry.path) (`coord keys list` shows them)")
        }
        peers[index].revoked = true
        try registry.save(peers)
        return peers[index]
    }

    /// What a worker or client needs: the server's public key and its own pair.
    public struct ClientKeys: Sendable {
        public var serverKey: String
        public var keys: CurveKeyPair
    }

    /// Writes a new coordinator pair, a client pair and `authorized_keys`; refuses to overwrite.
    public func generate() throws -> (server: CurveKeyPair, client: CurveKeyPair) {
        let manager = FileManager.default
        try manager.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["coordinator.secret", "client.secret"] where manager.fileExists(atPath: path(name)) {
            throw WireSetupError.keys("\(path(name)) exists; remove the folder's keys first to make new ones")
        }
        let server = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        try write("coordinator.public", server.publicKey + "\n", secret: false)
        try write("coordinator.secret", server.secretKey + "\n", secret: true)
        try write("client.public", client.publicKey + "\n", secret: false)
        try write("client.secret", client.secretKey + "\n", secret: true)
        try write(
            "authorized_keys",
            "# public keys allowed to connect to the coordinator, one per line\n\(client.publicKey)\n",
            secret: false
        )
        return (server, client)
    }

    public func serverKeys() throws -> ServerKeys {
        let secret = try key("coordinator.secret")
        let pair = CurveKeyPair(publicKey: try CurveKeyPair.publicKey(forSecretKey: secret), secretKey: secret)
        if registry.exists {
            return ServerKeys(keys: pair, peers: try PeerDirectory(registry: registry), legacy: false)
        }
        let lines = try read("authorized_keys").split(whereSeparator: \.isNewline)
        var authorized: [Peer] = []
        for (number, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard trimmed.count == 40 else {
                throw WireSetupError.keys("\(path("authorized_keys")):\(number + 1): not a 40-character Z85 key")
            }
            authorized.append(Peer(name: "authorized-\(number + 1)", role: .legacy, publicKey: trimmed))
        }
        return ServerKeys(keys: pair, peers: PeerDirectory(fixed: authorized), legacy: true)
    }

    public func clientKeys() throws -> ClientKeys {
        let secret = try key("client.secret")
        return ClientKeys(
            serverKey: try key("coordinator.public"),
            keys: CurveKeyPair(publicKey: try CurveKeyPair.publicKey(forSecretKey: secret), secretKey: secret)
        )
    }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private func read(_ name: String) throws -> String {
        guard let text = try? String(contentsOfFile: path(name), encoding: .utf8) else {
            throw WireSetupError.keys("cannot read \(path(name)) (make keys with `coord keys --out \(folder.path)`)")
        }
        return text
    }

    private func key(_ name: String) throws -> String {
        if name.hasSuffix(".secret") { try checkPrivate(name) }
        let text = try read(name).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count == 40 else { throw WireSetupError.keys("\(path(name)): not a 40-character Z85 key") }
        return text
    }

    /// A secret key file that others may read is refused, with the fix.
    private func checkPrivate(_ name: String) throws {
        var info = stat()
        guard stat(path(name), &info) == 0 else { return }  // missing: `read` names it
        let mode = info.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw WireSetupError.keys(
                "\(path(name)) can be read by other users (mode \(String(mode, radix: 8))); "
                    + "a secret key must be private: chmod 600 \(path(name))"
            )
        }
    }

    /// Creates the file with its final mode from the first byte (no window in which a secret
    /// is readable under the umask's mode); refuses to replace an existing file.
    private func write(_ name: String, _ text: String, secret: Bool) throws {
        try KeyFile.create(path(name), text, mode: secret ? 0o600 : 0o644)
    }
}

/// A setting of the wire that cannot be used (keys, endpoints).
public enum WireSetupError: Error, CustomStringConvertible {
    case keys(String)
    case endpoint(String)

    public var description: String {
        switch self {
        case .keys(let message): "CURVE keys: \(message)"
        case .endpoint(let message): "endpoint: \(message)"
        }
    }
}
