import PostgresClient

/// What the store could not do, naming the index, model, job or setting at fault.
public enum StoreError: Error, CustomStringConvertible {
    case database(PostgresError, during: String)
    case migrationsNotFound(searched: [String])
    case migrationFailed(file: String, PostgresError)
    case unknownModel(String, known: [String])
    case unknownIndex(String)
    case unknownJob(Int64)
    case indexModelMismatch(index: String, model: String, existing: String)
    case dimensionMismatch(table: String, expected: Int, got: Int)
    case invalid(String)
    /// Stopped on request (Ctrl-C, SIGTERM) and cleaned up after.
    case cancelled(String)

    public var description: String {
        switch self {
        case .database(let error, let during): "\(during): \(error)"
        case .migrationsNotFound(let searched):
            "no Schemas/migrations folder found (looked in \(searched.joined(separator: ", "))); set DRIFTLESS_SCHEMAS"
        case .migrationFailed(let file, let error): "migration \(file) failed: \(error)"
        case .unknownModel(let name, let known):
            "unknown model \"\(name)\"; registered: \(known.isEmpty ? "none (start `coord serve --models DIR`)" : known.joined(separator: ", "))"
        case .unknownIndex(let name): "unknown index \"\(name)\""
        case .unknownJob(let id): "unknown job \(id)"
        case .indexModelMismatch(let index, let model, let existing):
            "index \"\(index)\" is embedded by \(existing), not \(model); use another index name (upgrades come with `coord upgrade`)"
        case .dimensionMismatch(let table, let expected, let got):
            "\(table) holds \(expected)-d vectors, got \(got)"
        case .invalid(let message): message
        case .cancelled(let message): message
        }
    }

    /// The database refused the data itself: SQLSTATE class 22 (a data exception: an invalid
    /// byte sequence, a character it cannot store, a value out of range) or 54000 (a value past
    /// a limit, such as an index row too big). The same documents fail on any worker.
    public var isDataFault: Bool {
        guard case .database(let error, _) = self, let state = error.sqlState else { return false }
        return state.hasPrefix("22") || state == "54000"
    }

    /// The database went away (not a bad statement): reconnecting may help.
    public var isConnectionLoss: Bool {
        if case .database(let error, _) = self { return error.isConnectionLoss }
        return false
    }
}

extension PostgresConnection {
    @discardableResult
    /// Runs `body`, labelling any PostgreSQL error with what was being done.
    func during<T>(_ what: String, _ body: () throws -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch let error as PostgresError {
            throw .database(error, during: what)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .invalid("\(what): \(error)")
        }
    }
}
