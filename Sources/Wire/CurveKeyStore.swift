import Foundation
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// The CURVE keys of a deployment, in a folder that `coord keys` writes:
///
///     coordinator.public   the coordinator's public key (give it to workers and clients)
///     coordinator.secret   the coordinator's secret key (stays with the coordinator)
///     client.public        the key pair workers and clients present
///     client.secret
///     authorized_keys      public keys allowed to connect, one per line (# comments)
///
/// Keys are Z85 text, 40 characters. Secret files are written mode 0600.
public struct CurveKeyStore: Sendable {
    public let folder: URL

    public init(folder: String) { self.folder = URL(fileURLWithPath: folder, isDirectory: true) }

    /// What a coordinator needs: its own pair and the keys it lets in.
    public struct ServerKeys: Sendable {
        public var keys: CurveKeyPair
        public var authorized: Set<String>
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
        let lines = try read("authorized_keys").split(whereSeparator: \.isNewline)
        var authorized = Set<String>()
        for (number, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard trimmed.count == 40 else {
                throw WireSetupError.keys("\(path("authorized_keys")):\(number + 1): not a 40-character Z85 key")
            }
            authorized.insert(trimmed)
        }
        return ServerKeys(keys: pair, authorized: authorized)
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
        let descriptor = open(path(name), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0o600 : 0o644)
        guard descriptor >= 0 else {
            throw WireSetupError.keys("cannot write \(path(name)): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
            throw WireSetupError.keys("cannot write \(path(name)): \(String(cString: strerror(errno)))")
        }
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
