import ArgumentParser
import Foundation
import PostgresClient
import Store
import Telemetry

struct BenchCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-copy",
        abstract:
            "Measure PostgreSQL write speed: COPY of random unit vectors into a temporary pgvector table (vectors/s), text or binary format."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, binary, both
    }

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "Vectors per round.")
    var count = 20_000

    @Option(name: .long, help: "Dimension of each vector.")
    var dimension = 384

    @Option(name: .long, help: "Bytes of text in each row besides the vector (a document's body; 0 for none).")
    var bodyBytes = 0

    @Option(name: .long, help: "COPY format: text (as workers write), binary, or both, one round of each in turn.")
    var format = Format.text

    @Option(name: .long, help: "Rounds (the best is reported too).")
    var rounds = 3

    func run() throws {
        do {
            let connection = try PostgresConnection(url: try database.requiredURL())
            var generator = SystemRandomNumberGenerator()
            let vectors = (0..<count).map { _ in
                let vector = (0..<dimension).map { _ in Float.random(in: -1...1, using: &generator) }
                let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return vector.map { $0 / norm }
            }
            let body = String(repeating: "lorem ipsum ", count: bodyBytes / 12 + 1).prefix(bodyBytes)
            let formats: [Format] = format == .both ? [.text, .binary] : [format]
            var best: [Format: Double] = [:]
            for round in 1...rounds {
                for format in formats {
                    let encodeStart = ContinuousClock.now
                    let data = Self.encode(vectors, body: String(body), format: format)
                    let encodeSeconds = (ContinuousClock.now - encodeStart).seconds
                    try connection.execute("DROP TABLE IF EXISTS bench_copy")
                    try connection.execute(
                        "CREATE TEMPORARY TABLE bench_copy (doc_id text PRIMARY KEY, body text, embedding vector(\(dimension)))"
                    )
                    let options = format == .binary ? " (FORMAT binary)" : ""
                    let start = ContinuousClock.now
                    try connection.transaction {
                        try connection.copyIn(
                            "COPY bench_copy (doc_id, body, embedding) FROM STDIN\(options)",
                            data: data
                        )
                    }
                    let seconds = (ContinuousClock.now - start).seconds
                    let rate = Double(count) / (seconds + encodeSeconds)
                    best[format] = max(best[format] ?? 0, rate)
                    print(
                        String(
                            format:
                                "round %d, %@: %d %d-d vectors, %d body bytes: encode %.3f s, COPY %.3f s: %.0f vectors/s (%.1f MB)",
                            round,
                            format.rawValue,
                            count,
                            dimension,
                            bodyBytes,
                            encodeSeconds,
                            seconds,
                            rate,
                            Double(data.count) / 1e6
                        )
                    )
                }
            }
            for format in formats {
                print(String(format: "best, %@: %.0f vectors/s (encode + COPY)", format.rawValue, best[format] ?? 0))
            }
        } catch {
            throw fail(error)
        }
    }

    static func encode(_ vectors: [[Float]], body: String, format: Format) -> Data {
        switch format {
        case .binary:
            var copy = CopyBinary()
            for (index, vector) in vectors.enumerated() {
                copy.beginRow(fields: 3)
                copy.text("doc-\(index)")
                copy.text(body)
                copy.vector(vector)
            }
            return copy.data
        case .text, .both:
            var copy = CopyText()
            for (index, vector) in vectors.enumerated() {
                copy.appendRow(["doc-\(index)", body, CopyText.vector(vector)])
            }
            return copy.data
        }
    }
}
