import DriftlessTestSupport
import Foundation
import PostgresClient
import Store
import Testing

/// Where a submission goes, for every index at once (the `coord status` answer): the same routes
/// as resolving each index alone, in a number of statements that does not grow with the indexes.
extension Integration {
    @Suite("IndexRoutes")
    struct IndexRouteTests {
        func model(_ name: String, dimension: Int) -> ModelRecord {
            ModelRecord(
                name: name,
                architecture: "none",
                dimension: dimension,
                pooling: "mean",
                normalized: true,
                maxSequenceLength: 8,
                prompts: "{}",
                weightsHash: name
            )
        }

        /// An index `name` of model `old` with its successor `name@new`, serving as `mode` (or with
        /// no serving state), and a re-index job in state `fillingJob` on the successor.
        func upgraded(
            _ name: String,
            mode: String?,
            fillingJob state: String? = nil,
            catalog: Catalog,
            connection: PostgresConnection
        ) throws {
            let index = try catalog.index(named: name, model: "old")
            let successor = try catalog.index(named: "\(name)@new", model: "new", succeeding: index)
            if let mode {
                try connection.execute(
                    """
                    INSERT INTO index_serving (index_id, model_id, mode, rescore_depth, successor_index_id)
                    VALUES ($1, $2, $3, 20, $4)
                    """,
                    [String(index.id), String(successor.model.id), mode, String(successor.id)]
                )
            }
            if let state { try job(on: successor, state: state, connection: connection) }
        }

        func job(on index: IndexRecord, state: String, connection: PostgresConnection) throws {
            try connection.execute(
                "INSERT INTO jobs (index_id, state, source, shard_size) VALUES ($1, $2, 'reindex', 8)",
                [String(index.id), state]
            )
        }

        @Test("every index's route at once: each as resolved alone, in 3 statements for 8 routes and for 14")
        func allRoutesInBoundedStatements() throws {
            let database = try TestDatabase()
            let migrate = try TestResources.run(TestResources.coordExecutable, ["migrate", "--database", database.url])
            try #require(migrate.status == 0, "\(migrate.stderr)")
            let connection = try database.connect()
            let catalog = Catalog(connection)
            _ = try catalog.register(model("old", dimension: 8))
            _ = try catalog.register(model("new", dimension: 16))
            _ = try catalog.index(named: "plain", model: "old")
            try upgraded("rescored", mode: "rescore", catalog: catalog, connection: connection)
            try upgraded("promoted", mode: "promoted", catalog: catalog, connection: connection)
            try upgraded("filling", mode: nil, fillingJob: "receiving", catalog: catalog, connection: connection)
            try upgraded("filled", mode: nil, fillingJob: "done", catalog: catalog, connection: connection)
            // Serving from one successor while a re-index fills another: both follow, in that order.
            try upgraded("twice", mode: "rescore", catalog: catalog, connection: connection)
            let twice = try #require(try catalog.index(named: "twice"))
            let other = try catalog.index(named: "twice@other", model: "new", succeeding: twice)
            try job(on: other, state: "running", connection: connection)
            // A promoted index whose serving successor is also being filled: once, as the target.
            try upgraded(
                "promoted-filling",
                mode: "promoted",
                fillingJob: "receiving",
                catalog: catalog,
                connection: connection
            )

            func routes() throws -> (routes: [(name: String, route: IndexRoute)], statements: Int) {
                let before = connection.statementsSent
                let routes = try IndexRoute.all(connection: connection)
                return (routes, connection.statementsSent - before)
            }
            let (first, statements) = try routes()
            // Successors are generations of their index, not indexes of their own (except a
            // successor whose filling is over and that nothing serves from).
            #expect(
                first.map(\.name) == [
                    "filled", "filled@new", "filling", "plain", "promoted", "promoted-filling", "rescored", "twice",
                ]
            )
            for (name, route) in first {
                #expect(route == (try IndexRoute.resolve(name, model: nil, connection: connection)), "\(name)")
            }
            let byName = Dictionary(uniqueKeysWithValues: first.map { ($0.name, $0.route) })
            let generations = byName.mapValues { ([$0.target] + $0.then).map(\.name) }
            #expect(generations["plain"] == ["plain"])
            #expect(generations["rescored"] == ["rescored", "rescored@new"])
            #expect(byName["rescored"]?.serving.mode == .rescore)
            #expect(byName["rescored"]?.serving.model.name == "new")
            #expect(generations["promoted"] == ["promoted@new", "promoted"])
            #expect(generations["filling"] == ["filling", "filling@new"])
            #expect(byName["filling"]?.serving.mode == .native)
            #expect(generations["filled"] == ["filled"])
            #expect(generations["twice"] == ["twice", "twice@new", "twice@other"])
            #expect(generations["promoted-filling"] == ["promoted-filling@new", "promoted-filling"])

            for n in 0..<4 { _ = try catalog.index(named: "more-\(n)", model: "old") }
            try upgraded("rescored-later", mode: "rescore", catalog: catalog, connection: connection)
            try upgraded("filling-later", mode: nil, fillingJob: "running", catalog: catalog, connection: connection)
            let (second, moreStatements) = try routes()
            #expect(second.count == first.count + 6)
            #expect(moreStatements == statements, "statements for \(first.count) and \(second.count) indexes")
            #expect(statements == 3)
        }
    }
}
