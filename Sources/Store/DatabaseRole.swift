import PostgresClient

/// Who a connection is in PostgreSQL, for telling a process that it has more rights than it needs.
public struct DatabaseRole: Sendable, Equatable {
    public var name: String
    public var superuser: Bool
    /// May create objects in the schema, or is (a member of) the owner of Driftless's tables.
    public var canChangeSchema: Bool

    public static func current(_ connection: PostgresConnection) throws(StoreError) -> DatabaseRole {
        let rows = try connection.during("reading the connection's role") {
            try connection.execute(
                """
                SELECT current_user AS name, r.rolsuper AS superuser,
                    has_schema_privilege('public', 'CREATE')
                    OR COALESCE((SELECT pg_has_role(current_user, t.tableowner, 'USAGE') FROM pg_tables t
                        WHERE t.schemaname = 'public' AND t.tablename = 'shards'), false) AS can_change
                FROM pg_roles r WHERE r.rolname = current_user
                """
            )
        }
        return DatabaseRole(
            name: rows.value(0, "name") ?? "?",
            superuser: rows.value(0, "superuser") == "t",
            canChangeSchema: rows.value(0, "can_change") == "t"
        )
    }
}
