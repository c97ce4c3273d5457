import ArgumentParser
import Foundation
import Logging
import PostgresClient
import Store
import Synchronization
import Wire

/// Where the database is: a flag or the environment, never logged with its password.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "PostgreSQL URL (default: $DRIFTLESS_DATABASE_URL). A password here is visible to other users: prefer --database-file."
    )
    var database: String?

    @Option(name: .long, help: "A file holding the PostgreSQL URL (default: $DRIFTLESS_DATABASE_URL_FILE).")
    var databaseFile: String?

    /// The URL (validated before `run`); a warning is printed once when it came with a password on the command line.
    var url: String {
        guard let source = try? PostgresURL.resolve(flag: database, file: databaseFile) else { return "" }
        if let warning = source.warning { DatabaseOptions.warnOnce(warning) }
        return source.url
    }

    private static let warned = Mutex(false)

    static func warnOnce(_ warning: String) {
        if warned.withLock({
            let first = !$0
            $0 = true
            return first
        }) {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
    }

    /// The URL, or exit 64 naming what is missing (no flag and no environment).
    func requiredURL() throws -> String {
        do { _ = try PostgresURL.resolve(flag: database, file: databaseFile) } catch { throw fail(error, code: 64) }
        return url
    }

    /// A flag that names no usable database is refused before the command runs; none at all is
    /// refused when a database is first needed (`coord query --api` needs none).
    func validate() throws {
        guard database != nil || databaseFile != nil else { return }
        do { _ = try PostgresURL.resolve(flag: database, file: databaseFile) } catch {
            throw ValidationError("\(error)")
        }
    }

    /// A connection to a database whose schema is current; failures print and exit 1 (64 when
    /// no database was given).
    func connect() throws -> PostgresConnection {
        do { _ = try PostgresURL.resolve(flag: database, file: databaseFile) } catch { throw fail(error, code: 64) }
        do {
            let connection = try PostgresConnection(url: url)
            try Migrator.locate().requireCurrent(connection)
            return connection
        } catch let error as PostgresError {
            throw fail("cannot connect to \(PostgresURL.redacted(url)): \(error)")
        } catch {
            throw fail(error)
        }
    }
}

/// How a client reaches the coordinator.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The coordinator's client endpoint.")
    var coordinator = "tcp://127.0.0.1:5556"

    @Option(name: .long, help: "A folder with coordinator.public and client.secret (from `coord keys`), for CURVE.")
    var keys: String?

    @Option(name: .long, help: "Seconds to wait for each answer from the coordinator.")
    var timeout = 60.0

    func client() throws -> CoordinatorClient {
        let keys = try keys.map { try CurveKeyStore(folder: $0).clientKeys() }
        return try CoordinatorClient(endpoint: coordinator, keys: keys, timeout: .milliseconds(Int(timeout * 1000)))
    }
}

struct LoggingOptions: ParsableArguments {
    @Flag(name: .long, help: "Log more detail.")
    var verbose = false

    func logger(_ label: String) -> Logger {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = verbose ? .debug : .info
        return logger
    }
}

/// The folder of model folders: the flag, else $DRIFTLESS_MODELS, else ./models.
/// `--precision`: one of ``ModelName/precisions``.
func validatePrecision(_ value: String) throws {
    guard ModelName.precisions.contains(value) else {
        throw ValidationError("--precision must be fp32, bf16 or int8, not \(value)")
    }
}

func modelsFolder(_ flag: String?) -> String {
    flag ?? ProcessInfo.processInfo.environment["DRIFTLESS_MODELS"] ?? "models"
}

/// Prints `error` on standard error and exits with `code`.
func fail(_ error: Any, code: Int32 = 1) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    return ExitCode(code)
}
