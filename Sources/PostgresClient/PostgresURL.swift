import Foundation

/// Database URLs as given by flags, files or the environment.
public enum PostgresURL {
    /// The environment variable that holds the database URL when no flag does.
    public static let environmentVariable = "DRIFTLESS_DATABASE_URL"
    /// The environment variable that names a file holding the URL (kept out of the process list).
    public static let fileVariable = "DRIFTLESS_DATABASE_URL_FILE"

    /// Query parameters whose values are secret, or name where a secret lives.
    static let secretParameters: Set<String> = ["password", "sslpassword", "passfile", "sslkey", "sslcert"]

    /// `url` with its password and every secret-bearing parameter (password, sslpassword,
    /// passfile, sslkey, sslcert) replaced by `***`, for logs and messages.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<unparsable database URL>" }
        if components.password != nil { components.password = "***" }
        if let items = components.queryItems {
            components.queryItems = items.map {
                secretParameters.contains($0.name.lowercased()) ? URLQueryItem(name: $0.name, value: "***") : $0
            }
        }
        return components.string ?? "<unparsable database URL>"
    }

    /// Whether `url` carries a secret itself (a password in it, or a password parameter).
    public static func carriesPassword(_ url: String) -> Bool {
        guard let components = URLComponents(string: url) else { return false }
        return components.password.map { !$0.isEmpty } == true
            || (components.queryItems ?? []).contains { ["password", "sslpassword"].contains($0.name.lowercased()) }
    }

    /// Where the URL came from, and a warning for the log when that place is readable by others.
    public struct Source: Sendable {
        public var url: String
        public var warning: String?
    }

    public enum Failure: Error, CustomStringConvertible {
        case none
        case unreadable(path: String, reason: String)

        public var description: String {
            switch self {
            case .none:
                "no database: pass --database-file PATH (or --database URL), or set \(PostgresURL.fileVariable) or \(PostgresURL.environmentVariable)"
            case .unreadable(let path, let reason): "cannot read the database URL from \(path): \(reason)"
            }
        }
    }

    /// The URL from `--database-file`, `--database`, `DRIFTLESS_DATABASE_URL_FILE` or
    /// `DRIFTLESS_DATABASE_URL`, in that order. A password on the command line is accepted
    /// with a warning: every user of the machine can read a process's arguments.
    public static func resolve(
        flag: String?,
        file: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Failure) -> Source {
        if let path = file ?? (flag == nil ? environment[fileVariable] : nil) {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw .unreadable(path: path, reason: error.localizedDescription)
            }
            let url = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !url.isEmpty else { throw .unreadable(path: path, reason: "the file is empty") }
            return Source(url: url, warning: nil)
        }
        if let flag {
            let warning =
                carriesPassword(flag)
                ? "the database password is on the command line, where other users can read it in the process list; "
                    + "use --database-file PATH, \(environmentVariable), or a libpq passfile (PGPASSFILE)"
                : nil
            return Source(url: flag, warning: warning)
        }
        if let url = environment[environmentVariable], !url.isEmpty { return Source(url: url, warning: nil) }
        throw .none
    }
}
