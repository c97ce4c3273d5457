/// A failed libpq call: the server's SQLSTATE and message, or libpq's own.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// Five characters (e.g. "23505" unique violation), nil when the failure is the client's or the connection's.
    public let sqlState: String?
    public let message: String
    public let detail: String?
    /// The connection is gone (refused, closed, server shut down): reconnect and retry.
    public let isConnectionLoss: Bool

    public init(sqlState: String? = nil, message: String, detail: String? = nil, isConnectionLoss: Bool = false) {
        self.sqlState = sqlState
        self.message = message.trimmingTrailingNewlines
        self.detail = detail
        self.isConnectionLoss = isConnectionLoss || sqlState.map { $0.hasPrefix("08") || $0.hasPrefix("57P") } ?? false
    }

    public var description: String {
        var text = "PostgreSQL: \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += " — \(detail)" }
        return text
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var text = self
        while text.last?.isNewline == true { text.removeLast() }
        return text
    }
}
