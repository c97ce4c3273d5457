import JobStates
import PostgresClient

/// A job's or a shard's state as the database holds it, typed, with its row locked for the
/// caller's transaction.
enum StateRows {
    static func job(_ id: Int64, _ connection: PostgresConnection) throws -> JobState? {
        try connection.execute("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", [String(id)]).scalar
            .flatMap(JobState.init(rawValue:))
    }

    static func shard(_ id: Int64, _ connection: PostgresConnection) throws -> ShardState? {
        try connection.execute("SELECT state FROM shards WHERE id = $1 FOR UPDATE", [String(id)]).scalar
            .flatMap(ShardState.init(rawValue:))
    }
}
