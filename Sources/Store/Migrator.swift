import Foundation
import Logging
import PostgresClient

/// Applies `Schemas/migrations/NNNN_name.sql` in order, each in its own
/// transaction, and records them in `schema_migrations`. An advisory lock
/// keeps two processes from migrating at once.
public struct Migrator {
    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    /// The migrations folder: `DRIFTLESS_SCHEMAS` (a `Schemas` folder), else a
    /// `Schemas/migrations` beside or above the executable (a build folder in the
    /// repository), else `/usr/share/driftless/Schemas` (the container image).
    public static func locate() throws(StoreError) -> Migrator {
        var candidates: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["DRIFTLESS_SCHEMAS"] {
            candidates.append(URL(fileURLWithPath: explicit).appendingPathComponent("migrations"))
        }
        // /proc/self/exe: the executable's real path even when it was started through PATH.
        let executable =
            FileManager.default.fileExists(atPath: "/proc/self/exe") ? "/proc/self/exe" : CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir.appendingPathComponent("Schemas/migrations"))
            dir.deleteLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: "/usr/share/driftless/Schemas/migrations"))
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.path) {
            return Migrator(folder: candidate)
        }
        throw .migrationsNotFound(searched: candidates.map(\.path))
    }

    public struct Migration: Sendable {
        public var version: Int
        public var name: String
        public var url: URL
    }

    public func migrations() throws(StoreError) -> [Migration] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var result: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            guard let version = Int(name.prefix(while: \.isNumber)) else {
                throw .invalid("\(folder.path)/\(name): a migration's name starts with its number (0002_…)")
            }
            result.append(Migration(version: version, name: name, url: folder.appendingPathComponent(name)))
        }
        return result
    }

    /// The migrations not yet applied to the database behind `connection`.
    public func pending(_ connection: PostgresConnection) throws(StoreError) -> [String] {
        let all = try migrations()
        return try connection.during("reading applied migrations") {
            guard try connection.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").scalar == "t" else {
                return all.map(\.name)
            }
            let applied = Set(
                try connection.execute("SELECT version FROM schema_migrations").rows.compactMap {
                    $0[0].flatMap { Int($0) }
                }
            )
            return all.filter { !applied.contains($0.version) }.map(\.name)
        }
    }

    /// Throws when the database lacks migrations this program needs, saying how to apply them.
    public func requireCurrent(_ connection: PostgresConnection) throws(StoreError) {
        let missing = try pending(connection)
        guard missing.isEmpty else {
            throw .invalid(
                "the database schema is older than this program (not applied: \(missing.joined(separator: ", "))): "
                    + "run `coord migrate` (or start `coord serve`, which applies them)"
            )
        }
    }

    /// Applies what is missing; returns the names applied.
    @discardableResult
    public func migrate(_ connection: PostgresConnection, logger: Logger) throws(StoreError) -> [String] {
        let all = try migrations()
        return try connection.during("migrating") {
            // Whatever the connection's own bounds (a daemon's are short), migrating waits for its
            // locks (another process migrating, a commit holding a table) up to a minute, and a
            // migration runs as long as it needs; the bounds are restored after.
            let bounds = try connection.execute(
                "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
            )
            try connection.execute(
                "SELECT set_config('lock_timeout', '60s', false), set_config('statement_timeout', '0', false)"
            )
            defer {
                _ = try? connection.execute(
                    "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)",
                    [bounds.rows.first?[0] ?? "0", bounds.rows.first?[1] ?? "0"]
                )
            }
            try connection.execute("SELECT pg_advisory_lock(7426001)")
            defer { _ = try? connection.execute("SELECT pg_advisory_unlock(7426001)") }
            try connection.executeScript(
                """
                SET client_min_messages = warning;
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
                """
            )
            let applied = Set(
                try connection.execute("SELECT version FROM schema_migrations").rows.compactMap {
                    $0[0].flatMap { Int($0) }
                }
            )
            var done: [String] = []
            for migration in all where !applied.contains(migration.version) {
                let sql = try String(contentsOf: migration.url, encoding: .utf8)
                do {
                    try connection.transaction {
                        try connection.executeScript(sql)
                        try connection.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            [String(migration.version), migration.name]
                        )
                    }
                } catch let error as PostgresError {
                    throw StoreError.migrationFailed(file: migration.url.path, error)
                }
                logger.info("migration applied", metadata: ["migration": "\(migration.name)"])
                done.append(migration.name)
            }
            return done
        }
    }
}
