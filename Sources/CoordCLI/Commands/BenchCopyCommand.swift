import ArgumentParser
import Foundation
import PostgresClient
import Store
import Telemetry

struct BenchCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-copy",
        abstract:
            "Measure PostgreSQL write speed: COPY of random unit vectors into a temporary pgvector table (vectors/s)."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "Vectors per round.")
    var count = 20_000

    @Option(name: .long, help: "Dimension of each vector.")
    var dimension = 384

    @Option(name: .long, help: "Rounds (the best is reported too).")
    var rounds = 3

    func run() throws {
        do {
            let connection = try PostgresConnection(url: try database.requiredURL())
            var generator = SystemRandomNumberGenerator()
            var copy = CopyText()
            for index in 0..<count {
                var vector = (0..<dimension).map { _ in Float.random(in: -1...1, using: &generator) }
                let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
                vector = vector.map { $0 / norm }
                copy.appendRow(["doc-\(index)", CopyText.vector(vector)])
            }
            var rates: [Double] = []
            for round in 1...rounds {
                try connection.execute("DROP TABLE IF EXISTS bench_copy")
                try connection.execute(
                    "CREATE TEMPORARY TABLE bench_copy (doc_id text PRIMARY KEY, embedding vector(\(dimension)))"
                )
                let start = ContinuousClock.now
                try connection.transaction {
                    try connection.copyIn("COPY bench_copy (doc_id, embedding) FROM STDIN", data: copy.data)
                }
                let seconds = (ContinuousClock.now - start).seconds
                rates.append(Double(count) / seconds)
                print(
                    String(
                        format: "round %d: %d %d-d vectors in %.3f s: %.0f vectors/s (%.1f MB of COPY text)",
                        round,
                        count,
                        dimension,
                        seconds,
                        Double(count) / seconds,
                        Double(copy.data.count) / 1e6
                    )
                )
            }
            print(String(format: "best: %.0f vectors/s", rates.max() ?? 0))
        } catch {
            throw fail(error)
        }
    }
}
