/// How long each Driftless process lets one statement run and wait for a lock. Without them, a
/// commit waiting behind a lock (an HNSW build, another commit's shard row, an operator's
/// `LOCK TABLE`) waits without bound while its worker keeps heartbeating, and a coordinator
/// statement that waits stalls every worker and client.
public enum DatabaseTimeouts {
    /// The coordinator's connection: its event loop must never wait long. A statement that hits
    /// the lock timeout fails (SQLSTATE 55P03) and is tried again on a later turn.
    public static let coordinator: [(String, String)] = [
        ("lock_timeout", "500ms"), ("statement_timeout", "120s"), ("idle_in_transaction_session_timeout", "60s"),
    ]
    /// The coordinator's reconnection attempts (at most one a second) wait this long: a database
    /// behind a partition answers nothing, and the loop must not wait for it.
    public static let coordinatorConnectSeconds = 2

    /// The coordinator's upload stager (off the loop): a chunk may wait for a lock as a worker's
    /// commit does. At 500 ms, one chunk of a 10,000,000-document upload failed, and with it
    /// the upload, when its commit waited on the catalog during a checkpoint.
    public static let stager: [(String, String)] = [
        ("lock_timeout", "10s"), ("statement_timeout", "120s"), ("idle_in_transaction_session_timeout", "60s"),
    ]

    /// A worker's commit: a lock held past this makes the commit give up as a database fault
    /// (not counted against the shard), and the shard is dealt again.
    public static let worker: [(String, String)] = [
        ("lock_timeout", "10s"), ("statement_timeout", "120s"), ("idle_in_transaction_session_timeout", "60s"),
    ]
    /// Whether an error is one of these bounds firing (lock or statement timeout).
    public static func isTimeout(_ error: StoreError) -> Bool {
        guard case .database(let error, _) = error, let state = error.sqlState else { return false }
        return state == "55P03" || state == "57014"
    }
}
