import Foundation
import PostgresClient
import Synchronization

/// Where an HNSW build is, from `pg_stat_progress_create_index`.
public struct HnswBuildProgress: Sendable, Equatable, CustomStringConvertible {
    /// pgvector's phase: "initializing", "loading tuples", …
    public var phase: String
    public var tuplesDone: Int
    public var tuplesTotal: Int

    public init(phase: String, tuplesDone: Int, tuplesTotal: Int) {
        self.phase = phase
        self.tuplesDone = tuplesDone
        self.tuplesTotal = tuplesTotal
    }

    public var description: String {
        tuplesTotal > 0 ? "\(phase) \(tuplesDone)/\(tuplesTotal)" : phase
    }
}

/// Builds an index's pgvector HNSW index (cosine distance) on a connection of its own,
/// reporting progress from a second one.
///
/// A build takes a SHARE lock on the vector table: searches go on, commits into that
/// index wait. A rebuild (new parameters) builds beside the old HNSW index and swaps
/// the two in one short transaction, so searches never go without one. Builds of the
/// same index are serialised by an advisory lock.
public struct HnswIndexBuilder: Sendable {
    public let url: String
    /// `maintenance_work_mem` for the build: the graph should fit in it (pgvector says
    /// when it does not, and the build slows down).
    public let maintenanceWorkMemory: String

    public init(url: String, maintenanceWorkMemory: String = "1GB") {
        self.url = url
        self.maintenanceWorkMemory = maintenanceWorkMemory
    }

    public enum Outcome: Sendable, Equatable {
        case built(seconds: Double)
        /// The index already had an HNSW index and no rebuild was asked for.
        case alreadyBuilt
    }

    /// Makes sure `index` has an HNSW index built with `parameters` (default: the index's
    /// own), rebuilding when `rebuild` is set. Calls `progress` about twice a second from
    /// the calling thread while the build runs.
    ///
    /// `cancelled` is asked as often: once it says yes, the server's build is cancelled (the
    /// statement, not only this process: a backend left building would hold its locks and its
    /// advisory lock until done), the half-built index is dropped, and ``StoreError/cancelled(_:)``
    /// is thrown. A rebuild's old HNSW index is untouched.
    ///
    /// `notice` hears what the server said about the build once it is over, e.g. pgvector's "hnsw
    /// graph no longer fits into maintenance_work_mem after N tuples" (the build then takes
    /// much longer: give it more memory).
    public func build(
        _ index: IndexRecord,
        parameters: HnswParameters? = nil,
        rebuild: Bool = false,
        cancelled: () -> Bool = { false },
        notice: (String) -> Void = { _ in },
        progress: (HnswBuildProgress) -> Void = { _ in }
    ) throws(StoreError) -> Outcome {
        let parameters = parameters ?? index.hnsw
        try parameters.validate()
        guard maintenanceWorkMemory.allSatisfy({ $0.isLetter || $0.isNumber }) else {
            throw .invalid("maintenance_work_mem \"\(maintenanceWorkMemory)\" is not a size such as 1GB")
        }
        let monitor: PostgresConnection
        do { monitor = try PostgresConnection(url: url) } catch {
            throw .database(error, during: "connecting to build HNSW")
        }

        // pgvector reports no tuple total while loading: the planner's row estimate stands in.
        let estimatedRows =
            (try? monitor.execute(
                "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass($1)",
                [index.vectorTable]
            ).scalar).flatMap { $0.flatMap { Int($0) } } ?? 0
        let state = SharedState()
        let done = DispatchSemaphore(value: 0)
        let (url, memory) = (url, maintenanceWorkMemory)
        let thread = Thread {
            defer { done.signal() }
            let result = Result { () throws(StoreError) -> Outcome in
                try Self.run(index, parameters: parameters, rebuild: rebuild, url: url, memory: memory, state: state)
            }
            state.value.withLock { $0.result = result }
        }
        thread.name = "hnsw-build-\(index.name)"
        thread.start()
        while done.wait(timeout: .now() + .milliseconds(500)) == .timedOut {
            if cancelled() {
                // Sent again each turn while a cancellable statement runs (one sent just before it
                // started would have been lost), under the lock: the build thread cannot move on to
                // its clean-up statements until the cancel has reached the server.
                state.value.withLock { state in
                    state.cancelRequested = true
                    _ = state.cancellable?.cancel()
                }
            }
            guard let pid = state.value.withLock({ $0.pid }) else { continue }
            if let rows = try? monitor.execute(
                "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index WHERE pid = $1",
                [String(pid)]
            ), !rows.isEmpty {
                progress(
                    HnswBuildProgress(
                        phase: rows.value(0, "phase") ?? "",
                        tuplesDone: rows.int(0, "tuples_done") ?? 0,
                        tuplesTotal: max(rows.int(0, "tuples_total") ?? 0, estimatedRows)
                    )
                )
            }
        }
        let (result, cancelRequested, notices) = state.value.withLock {
            ($0.result!, $0.cancelRequested, $0.notices)
        }
        notices.forEach(notice)
        if case .failure(let error) = result, cancelRequested, case .database = error {
            // Cancelled during one of the short statements around the build.
            throw Self.cancelled(index)
        }
        return try result.get()
    }

    private static func cancelled(_ index: IndexRecord) -> StoreError {
        .cancelled("the HNSW build of \(index.name) was cancelled; nothing of it was kept")
    }

    private struct BuildState: Sendable {
        var pid: Int?
        var result: Result<Outcome, StoreError>?
        /// The build connection's cancel handle while a statement worth cancelling runs (the lock
        /// wait, the build); nil while it cleans up.
        var cancellable: PostgresCancelHandle?
        var cancelRequested = false
        /// What the server said during the build statement.
        var notices: [String] = []
    }

    /// What the build thread tells the calling thread.
    private final class SharedState: Sendable {
        let value = Mutex(BuildState())
    }

    private static func run(
        _ index: IndexRecord,
        parameters: HnswParameters,
        rebuild: Bool,
        url: String,
        memory: String,
        state: SharedState
    ) throws(StoreError) -> Outcome {
        let connection: PostgresConnection
        do { connection = try PostgresConnection(url: url) } catch {
            throw .database(error, during: "connecting to build HNSW")
        }
        let clock = ContinuousClock.now
        let name = index.hnswIndexName
        let building = rebuild ? name + "_new" : name
        /// Whether a cancellation was asked for; from here on statements may be cancelled, or not.
        func cancellable(_ allowed: Bool) -> Bool {
            state.value.withLock { state in
                state.cancellable = allowed ? connection.cancelHandle : nil
                return state.cancelRequested
            }
        }
        let interrupted = cancelled(index)
        if cancellable(true) { throw interrupted }
        return try connection.during("building the HNSW index of \(index.name)") {
            // (A cancel during this wait or the short statements below is mapped by `build`.)
            try connection.execute("SELECT pg_advisory_lock(7426003, $1::int)", [String(index.id)])
            defer {
                _ = cancellable(false)
                _ = try? connection.execute("SELECT pg_advisory_unlock(7426003, $1::int)", [String(index.id)])
            }
            // A concurrent build that was interrupted leaves an invalid index behind: built again.
            let valid = try connection.execute(
                "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
                [name]
            ).scalar
            if valid == "t" && !rebuild { return .alreadyBuilt }
            if valid == "f" { try connection.execute("DROP INDEX IF EXISTS \(name)") }
            let pid = Int(try connection.execute("SELECT pg_backend_pid()").scalar ?? "0") ?? 0
            state.value.withLock { $0.pid = pid }
            try connection.execute("SET maintenance_work_mem = '\(memory)'")
            try connection.execute("DROP INDEX IF EXISTS \(index.vectorTable)_hnsw_new")
            // CONCURRENTLY: commits of other jobs into this table go on while the graph is built
            // (a plain CREATE INDEX holds a SHARE lock that blocks every insert until it ends).
            _ = connection.takeNotices()  // those of the statements before ("… does not exist, skipping")
            defer { state.value.withLock { $0.notices = connection.takeNotices() } }
            do {
                if cancellable(true) { throw interrupted }
                try connection.execute(
                    """
                    CREATE INDEX CONCURRENTLY \(building) ON \(index.vectorTable) USING hnsw (embedding \(index.storage.cosineOperatorClass))
                        WITH (m = \(parameters.m), ef_construction = \(parameters.efConstruction))
                    """
                )
                if cancellable(false) { throw interrupted }
            } catch {
                let wasCancelled = cancellable(false)
                if connection.isConnected {
                    // An interrupted concurrent build leaves an invalid index. Dropping it needs the
                    // table to itself: waited for 5 s at most (else the next build drops it).
                    _ = try? connection.execute("SET lock_timeout = '5s'")
                    _ = try? connection.execute("DROP INDEX IF EXISTS \(building)")
                }
                if wasCancelled { throw interrupted }
                throw error
            }
            try connection.transaction {
                if rebuild {
                    try connection.executeScript(
                        "DROP INDEX IF EXISTS \(name); ALTER INDEX \(building) RENAME TO \(name)"
                    )
                }
                try connection.execute(
                    "UPDATE indexes SET hnsw_m = $2, hnsw_ef_construction = $3, hnsw_built_at = now() WHERE id = $1",
                    [String(index.id), String(parameters.m), String(parameters.efConstruction)]
                )
            }
            let elapsed = (ContinuousClock.now - clock).components
            return .built(seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
        }
    }
}
