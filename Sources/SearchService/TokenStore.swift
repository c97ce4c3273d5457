import Crypto
import Foundation
import Synchronization

/// Bearer tokens of the search service, kept like the coordinator's CURVE keys: a file of
/// `NAME ROLE SHA256` lines (the token itself is shown once, when made, and never stored), a
/// role per token, revoked tokens marked `revoked` and refused from then on. The service reads
/// the file again when it changes: adding or revoking needs no restart.
public final class TokenStore: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        /// Searches, embeddings, and every GET.
        case read
        /// Also changes: cancelling a job.
        case admin
    }

    public struct Entry: Sendable, Equatable {
        public var name: String
        public var role: Role
        public var hash: String
        public var revoked: Bool
    }

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String, String)
        case malformed(file: String, line: Int, String)
        case exists(String)
        case unknown(String)
        case badName(String)

        public var description: String {
            switch self {
            case .unreadable(let file, let reason): "cannot read the token file \(file): \(reason)"
            case .malformed(let file, let line, let text):
                "\(file):\(line): \"\(text)\" is not NAME ROLE SHA256 [revoked]"
            case .exists(let name): "a token named \(name) exists (revoke it, or choose another name)"
            case .unknown(let name): "no token named \(name)"
            case .badName(let name): "token name \"\(name)\" must be letters, digits, '-', '_' or '.'"
            }
        }
    }

    public let file: String
    private let state = Mutex<(entries: [Entry], modified: Date?, checked: ContinuousClock.Instant?)>(([], nil, nil))

    public init(file: String) throws(Failure) {
        self.file = file
        _ = try reload()
    }

    /// The token's entry when it is known and not revoked (the file is read again when it changed,
    /// at most once a second).
    public func role(of token: String) -> Role? {
        let hash = Self.hash(token)
        refreshIfChanged()
        return state.withLock { state in state.entries.first { $0.hash == hash && !$0.revoked }?.role }
    }

    public var entries: [Entry] { state.withLock { $0.entries } }

    /// Makes a token for `name` with `role`, appends its hash, and returns the token.
    public func add(name: String, role: Role) throws(Failure) -> String {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw .badName(name)
        }
        let entries = try reload()
        guard !entries.contains(where: { $0.name == name }) else { throw .exists(name) }
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let token =
            "dlx_"
            + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        try write(entries + [Entry(name: name, role: role, hash: Self.hash(token), revoked: false)])
        return token
    }

    public func revoke(name: String) throws(Failure) {
        var entries = try reload()
        guard let at = entries.firstIndex(where: { $0.name == name }) else { throw .unknown(name) }
        entries[at].revoked = true
        try write(entries)
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    private func refreshIfChanged() {
        let due = state.withLock { state in
            guard let checked = state.checked else { return true }
            return checked.duration(to: .now) >= .seconds(1)
        }
        guard due else { return }
        let modified = (try? FileManager.default.attributesOfItem(atPath: file))?[.modificationDate] as? Date
        let changed = state.withLock { state in
            state.checked = .now
            return modified != state.modified
        }
        // A file that cannot be read now keeps the tokens read before.
        if changed { _ = try? reload() }
    }

    @discardableResult
    private func reload() throws(Failure) -> [Entry] {
        let text: String
        if FileManager.default.fileExists(atPath: file) {
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw .unreadable(file, "\(error)")
            }
        } else {
            text = ""
        }
        var entries: [Entry] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard (3...4).contains(fields.count), let role = Role(rawValue: fields[1]), fields[2].count == 64,
                fields.count == 3 || fields[3] == "revoked"
            else { throw .malformed(file: file, line: number + 1, trimmed) }
            entries.append(Entry(name: fields[0], role: role, hash: fields[2], revoked: fields.count == 4))
        }
        let modified = (try? FileManager.default.attributesOfItem(atPath: file))?[.modificationDate] as? Date
        state.withLock { $0 = (entries, modified, .now) }
        return entries
    }

    private func write(_ entries: [Entry]) throws(Failure) {
        var text = "# Driftless API tokens: NAME ROLE SHA256 [revoked] (`coord tokens`)\n"
        for entry in entries {
            text += "\(entry.name) \(entry.role.rawValue) \(entry.hash)\(entry.revoked ? " revoked" : "")\n"
        }
        let folder = (file as NSString).deletingLastPathComponent
        do {
            if !folder.isEmpty {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            let temporary = file + ".tmp"
            FileManager.default.createFile(
                atPath: temporary,
                contents: Data(text.utf8),
                attributes: [.posixPermissions: 0o600]
            )
            guard rename(temporary, file) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file])
            }
        } catch {
            throw .unreadable(file, "\(error)")
        }
        _ = try reload()
    }
}
