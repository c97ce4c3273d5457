import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a peer's key lets it do.
public enum PeerRole: String, Sendable, CaseIterable {
    /// Connects to the worker endpoint only: takes shards, reports on its leases.
    case worker
    /// Connects to the client endpoint only: submits, uploads its own jobs, asks for status.
    case client
    /// A client that may also submit urgent jobs (re-scoring's on-demand embedding).
    case admin
    /// A key from an `authorized_keys` file of the old single-pair layout: both endpoints.
    case legacy

    /// The ZAP domain of each coordinator endpoint.
    public static let workerDomain = "workers"
    public static let clientDomain = "clients"

    /// Whether a key of this role may connect to the endpoint of `domain`.
    public func mayConnect(to domain: String) -> Bool {
        switch self {
        case .worker: domain == Self.workerDomain
        case .client, .admin: domain == Self.clientDomain
        case .legacy: true
        }
    }
}

/// One peer of a deployment: its name, role and public key, and whether it was revoked.
public struct Peer: Sendable, Equatable {
    public var name: String
    public var role: PeerRole
    public var publicKey: String
    public var revoked: Bool

    public init(name: String, role: PeerRole, publicKey: String, revoked: Bool = false) {
        self.name = name
        self.role = role
        self.publicKey = publicKey
        self.revoked = revoked
    }

    /// Names are what logs and `coord status` show, and a folder name: letters, digits, `.`, `_`, `-`.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.count) && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0))
            }
    }
}

/// The `peers` file of a keys folder: one peer a line, `NAME ROLE PUBLIC-KEY [revoked]`,
/// `#` comments. `coord keys add` appends, `coord keys revoke` rewrites it (atomically).
public struct PeerRegistry: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Every peer; a malformed line is an error naming it.
    public func load() throws(WireSetupError) -> [Peer] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .keys("cannot read \(path) (make it with `coord keys init`)")
        }
        var peers: [Peer] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if fields.isEmpty || fields[0].hasPrefix("#") { continue }
            guard fields.count == 3 || (fields.count == 4 && fields[3] == "revoked"), Peer.isValidName(fields[0]),
                let role = PeerRole(rawValue: fields[1]), role != .legacy, fields[2].count == 40
            else {
                throw .keys("\(path):\(number + 1): expected `NAME worker|client|admin PUBLIC-KEY [revoked]`")
            }
            peers.append(Peer(name: fields[0], role: role, publicKey: fields[2], revoked: fields.count == 4))
        }
        return peers
    }

    /// Writes the whole list: to a new file beside it, then renamed over it.
    public func save(_ peers: [Peer]) throws(WireSetupError) {
        var text = "# Driftless peers: NAME ROLE PUBLIC-KEY [revoked]. Managed by `coord keys add|revoke`.\n"
        for peer in peers {
            text += "\(peer.name) \(peer.role.rawValue) \(peer.publicKey)\(peer.revoked ? " revoked" : "")\n"
        }
        let temporary = path + ".new"
        unlink(temporary)
        try KeyFile.create(temporary, text, mode: 0o644)
        guard rename(temporary, path) == 0 else {
            throw .keys("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// The peers a coordinator lets in, read again whenever the `peers` file changes, so that
/// `coord keys add` and `coord keys revoke` take effect without a restart.
public final class PeerDirectory: @unchecked Sendable {
    private let registry: PeerRegistry?
    private let lock = NSLock()
    private var byKey: [String: Peer]
    private var byName: [String: Peer]
    private var stamp: (seconds: Int, nanoseconds: Int, size: Int) = (0, 0, 0)
    private var lastCheck = ContinuousClock.now - .seconds(10)

    /// Peers from a registry file (reloaded on change).
    public init(registry: PeerRegistry) throws(WireSetupError) {
        self.registry = registry
        byKey = [:]
        byName = [:]
        try reload(force: true)
    }

    /// Fixed peers (the old layout's `authorized_keys`).
    public init(fixed peers: [Peer]) {
        registry = nil
        byKey = Dictionary(peers.map { ($0.publicKey, $0) }, uniquingKeysWith: { a, _ in a })
        byName = Dictionary(peers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func peer(forKey key: String) -> Peer? {
        refresh()
        return lock.withLock { byKey[key] }
    }

    public func peer(named name: String) -> Peer? {
        refresh()
        return lock.withLock { byName[name] }
    }

    /// Reads the file again if it changed (checked at most every 200 ms). A file that no longer
    /// parses keeps the last good list (and is reported by the next `coord keys` command).
    private func refresh() {
        let due = lock.withLock {
            guard ContinuousClock.now - lastCheck > .milliseconds(200) else { return false }
            lastCheck = .now
            return true
        }
        if due { try? reload(force: false) }
    }

    private func reload(force: Bool) throws(WireSetupError) {
        guard let registry else { return }
        var info = stat()
        guard stat(registry.path, &info) == 0 else {
            if force { throw .keys("cannot read \(registry.path) (make it with `coord keys init`)") }
            return
        }
        let current = (info.st_mtim.tv_sec, info.st_mtim.tv_nsec, Int(info.st_size))
        if !force && lock.withLock({ stamp == current }) { return }
        let peers = try registry.load()
        lock.withLock {
            stamp = current
            byKey = Dictionary(peers.map { ($0.publicKey, $0) }, uniquingKeysWith: { a, _ in a })
            byName = Dictionary(peers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        }
    }
}

/// Files written with their final mode from the first byte.
enum KeyFile {
    static func create(_ path: String, _ text: String, mode: mode_t) throws(WireSetupError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw .keys("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
            throw .keys("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
