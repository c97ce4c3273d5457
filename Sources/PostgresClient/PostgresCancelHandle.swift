import CLibPQ
import Synchronization

/// Cancels the statement a ``PostgresConnection`` is running, from any thread (a signal handler's,
/// a supervisor's): what `pg_cancel_backend` does for that session, through libpq's `PQcancel`.
/// The connection keeps it current across reconnections. The statement fails with SQLSTATE
/// 57014 (as a `statement_timeout` does; the caller knows which it asked for); the connection stays usable.
public final class PostgresCancelHandle: Sendable {
    /// libpq's cancel object for the current connection (`PQgetCancel`), owned here.
    private let current = Mutex<CancelObject?>(nil)

    init() {}

    /// Asks the server to cancel the statement in flight; false when there is no connection or
    /// the request could not be sent. Nothing happens when no statement runs.
    @discardableResult
    public func cancel() -> Bool {
        // Sent outside the lock (PQcancel connects to the server and waits): the connection's own
        // thread must not block on it when it reconnects or closes. The object stays alive meanwhile.
        guard let object = current.withLock({ $0 }) else { return false }
        var message = [CChar](repeating: 0, count: 256)
        return PQcancel(object.pointer, &message, Int32(message.count)) == 1
    }

    /// Called by the connection when it connects (a new backend) or closes (nil).
    func update(_ connection: OpaquePointer?) {
        let object = connection.flatMap { PQgetCancel($0) }.map(CancelObject.init)
        current.withLock { $0 = object }
    }

    /// One `PGcancel`, freed when dropped.
    private final class CancelObject: @unchecked Sendable {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
        deinit { PQfreeCancel(pointer) }
    }
}
