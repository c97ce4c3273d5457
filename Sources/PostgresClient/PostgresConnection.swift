import CLibPQ
import Foundation

/// One libpq connection. Not thread-safe: keep it on one thread.
///
/// Queries use the extended protocol with text parameters (`$1`, `$2`, …),
/// so values are never spliced into SQL. Errors carry the server's SQLSTATE.
public final class PostgresConnection {
    private var handle: OpaquePointer?
    /// The URL, for reconnecting; never logged (see ``PostgresURL/redacted(_:)``).
    private let url: String
    /// Session settings applied on every (re)connection, e.g. `lock_timeout`.
    private let settings: [(String, String)]
    /// Cancels this connection's statement in flight from another thread (kept current on reconnection).
    public let cancelHandle = PostgresCancelHandle()
    /// Statements sent through this object, the session settings of each (re)connection
    /// included, never reset: a caller compares two readings to see how many times an
    /// operation waited on the server. `execute`, `executeScript` and `copyIn` count one each
    /// (a COPY is more than one round trip).
    public private(set) var statementsSent = 0
    /// The server's notices not yet taken (``takeNotices()``); libpq's notice processor adds to it.
    private let noticeBuffer = NoticeBuffer()

    /// Connects to `url` (`postgresql://user:password@host:port/database?…`).
    /// Without a `connect_timeout` in it, waits at most `connectTimeout` seconds. Unless the URL
    /// says otherwise, a link that goes silent (a partition: nothing refused, nothing answered) is
    /// given up after about 10 s (TCP keepalives and `tcp_user_timeout`) instead of the kernel's
    /// quarter of an hour, so a statement cannot hang on a dead link. `settings` are set for the
    /// session (`SET name = value`) each time it connects: a daemon's bounds on its waits.
    public init(url: String, settings: [(String, String)] = [], connectTimeout: Int = 10) throws(PostgresError) {
        var parameters: [String] = []
        if !url.contains("connect_timeout") { parameters.append("connect_timeout=\(connectTimeout)") }
        if !url.contains("keepalives") {
            parameters.append("keepalives=1&keepalives_idle=5&keepalives_interval=2&keepalives_count=3")
        }
        if !url.contains("tcp_user_timeout") { parameters.append("tcp_user_timeout=10000") }
        self.url =
            parameters.isEmpty ? url : url + (url.contains("?") ? "&" : "?") + parameters.joined(separator: "&")
        self.settings = settings
        try connect()
    }

    /// Connects, trying again every `interval` seconds for up to `seconds` (the database may start
    /// after the caller, or be restarting). `retrying` hears of each failed attempt: its number,
    /// the error, and the seconds left. Throws the last error once the time is up or `stop` says so.
    public static func waiting(
        url: String,
        settings: [(String, String)] = [],
        connectTimeout: Int = 10,
        seconds: Double,
        interval: Double = 2,
        stop: () -> Bool = { false },
        retrying: (_ attempt: Int, _ error: PostgresError, _ secondsLeft: Double) -> Void
    ) throws(PostgresError) -> PostgresConnection {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try PostgresConnection(url: url, settings: settings, connectTimeout: connectTimeout)
            } catch {
                let left = (deadline - ContinuousClock.now) / .seconds(1)
                guard left > 0, !stop() else { throw error }
                retrying(attempt, error, left)
                Thread.sleep(forTimeInterval: interval)
            }
        }
    }

    deinit {
        cancelHandle.update(nil)
        PQfinish(handle)
    }

    private func connect() throws(PostgresError) {
        cancelHandle.update(nil)
        PQfinish(handle)
        handle = PQconnectdb(url)
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            let message = handle.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(handle)
            self.handle = nil
            throw PostgresError(message: "cannot connect: \(message)", isConnectionLoss: true)
        }
        cancelHandle.update(handle)
        // Notices (e.g. "relation already exists, skipping") are not errors: kept for a caller
        // that asks (``takeNotices()``), never printed.
        PQsetNoticeProcessor(
            handle,
            { buffer, message in
                guard let buffer, let message else { return }
                Unmanaged<NoticeBuffer>.fromOpaque(buffer).takeUnretainedValue().add(String(cString: message))
            },
            Unmanaged.passUnretained(noticeBuffer).toOpaque()
        )
        for (name, value) in settings {
            try execute("SELECT set_config($1, $2, false)", [name, value])
        }
    }

    /// The notices the server sent since the last call, oldest first (the first
    /// ``NoticeBuffer/kept`` of them): pgvector's "hnsw graph no longer fits into
    /// maintenance_work_mem", "relation … already exists, skipping", ….
    public func takeNotices() -> [String] { noticeBuffer.take() }

    /// Whether the connection is up as far as libpq knows.
    public var isConnected: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Drops the connection and connects again.
    public func reconnect() throws(PostgresError) { try connect() }

    /// Runs one statement with text parameters and returns its rows.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresRows {
        guard let handle else { throw PostgresError(message: "not connected", isConnectionLoss: true) }
        statementsSent += 1
        let result = withParameterPointers(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        return try rows(of: result, for: handle)
    }

    /// Runs statements without parameters (several may be separated by semicolons).
    public func executeScript(_ sql: String) throws(PostgresError) {
        guard let handle else { throw PostgresError(message: "not connected", isConnectionLoss: true) }
        statementsSent += 1
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        _ = try rows(of: result, for: handle)
    }

    /// Runs `COPY … FROM STDIN` with `data` (in the format the statement names)
    /// and returns how many rows it wrote.
    @discardableResult
    public func copyIn(_ sql: String, data: Data) throws(PostgresError) -> Int {
        guard let handle else { throw PostgresError(message: "not connected", isConnectionLoss: true) }
        statementsSent += 1
        let start = PQexec(handle, sql)
        let status = PQresultStatus(start)
        if status != PGRES_COPY_IN {
            defer { PQclear(start) }
            _ = try rows(of: start, for: handle)
            throw PostgresError(message: "COPY did not start (\(String(cString: PQresStatus(status))))")
        }
        PQclear(start)
        let chunk = 1 << 20
        var offset = 0
        var failure: String?
        while offset < data.count && failure == nil {
            let end = min(offset + chunk, data.count)
            let sent = data[offset..<end].withUnsafeBytes {
                PQputCopyData(handle, $0.baseAddress?.assumingMemoryBound(to: CChar.self), Int32($0.count))
            }
            if sent != 1 { failure = String(cString: PQerrorMessage(handle)) }
            offset = end
        }
        if PQputCopyEnd(handle, failure) != 1 {
            throw PostgresError(message: String(cString: PQerrorMessage(handle)), isConnectionLoss: !isConnected)
        }
        var written = 0
        var firstError: PostgresError?
        while let result = PQgetResult(handle) {
            defer { PQclear(result) }
            do {
                written += try rows(of: result, for: handle).affected
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
        return written
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isConnected { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    // MARK: Results

    private func rows(of result: OpaquePointer?, for handle: OpaquePointer) throws(PostgresError) -> PostgresRows {
        guard let result else {
            throw PostgresError(message: String(cString: PQerrorMessage(handle)), isConnectionLoss: !isConnected)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_IN, PGRES_EMPTY_QUERY:
            break
        default:
            throw PostgresError(
                sqlState: field(result, "C"),
                message: field(result, "M") ?? String(cString: PQresultErrorMessage(result)),
                detail: field(result, "D"),
                isConnectionLoss: PQstatus(handle) != CONNECTION_OK
            )
        }
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            rows.append(
                (0..<columnCount).map { column in
                    PQgetisnull(result, Int32(row), Int32(column)) != 0
                        ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
                }
            )
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(columns: columns, rows: rows, affected: affected)
    }

    private func field(_ result: OpaquePointer, _ code: Character) -> String? {
        guard let pointer = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
        return String(cString: pointer)
    }

    private func withParameterPointers<R>(
        _ parameters: [String?],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R
    ) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } }
        defer { for copy in copies { free(copy) } }
        let pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// Notices of one connection, filled by libpq's notice processor on the connection's thread.
private final class NoticeBuffer {
    /// Notices kept between two takes; later ones are counted only.
    static let kept = 32
    private var messages: [String] = []
    private var dropped = 0

    func add(_ message: String) {
        guard messages.count < Self.kept else {
            dropped += 1
            return
        }
        messages.append(message.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func take() -> [String] {
        defer {
            messages = []
            dropped = 0
        }
        return dropped == 0 ? messages : messages + ["(\(dropped) more notices)"]
    }
}
