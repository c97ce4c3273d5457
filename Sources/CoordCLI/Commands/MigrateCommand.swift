import ArgumentParser
import PostgresClient
import Store

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract:
            "Apply the database migrations in Schemas/migrations that are not applied yet (also done by `coord serve`)."
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let logger = logging.logger("driftless.migrate")
        do {
            let connection = try PostgresConnection(url: try database.requiredURL())
            let applied = try Migrator.locate().migrate(connection, logger: logger)
            print(applied.isEmpty ? "database is up to date" : "applied: \(applied.joined(separator: ", "))")
        } catch {
            throw fail(error)
        }
    }
}
