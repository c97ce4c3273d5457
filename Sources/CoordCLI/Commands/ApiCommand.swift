import ArgumentParser
import Foundation
import Search
import SearchService
import Wire

struct ApiCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Serve searches and embeddings over HTTP with warm models, and a status page at /.",
        discussion: """
            Endpoints: POST /v1/search, POST /v1/embeddings (OpenAI-compatible), GET /v1/indexes[/NAME], \
            GET /v1/jobs, POST /v1/jobs/ID/cancel (admin), GET /v1/workers, GET /healthz, GET /readyz, GET /metrics; \
            the OpenAPI document is Schemas/search-api.openapi.json. Off loopback every request but /, /healthz and \
            /readyz needs a bearer token (`coord tokens add`). SIGTERM or SIGINT drains: requests in flight finish, \
            new ones get 503, exit 0.
            """
    )

    @Option(name: .long, help: "The address to listen on (off loopback, --tokens is required).")
    var host = "127.0.0.1"

    @Option(name: .long, help: "The port (0: any free port; the one bound is logged).")
    var port = 8080

    @Option(name: .long, parsing: .singleValue, help: "An index to serve (repeatable; default: every index).")
    var index: [String] = []

    @Option(name: .long, help: "The folder of model folders (default: $DRIFTLESS_MODELS, else ./models).")
    var models: String?

    @Option(name: .long, help: "Threads of each model call.")
    var threads = 2

    @Option(name: .long, help: "Database connections: searches running in PostgreSQL at once.")
    var connections = 8

    @Option(name: .long, help: "Most texts embedded in one model call (concurrent requests share calls).")
    var maxBatch = 64

    @Option(
        name: .long,
        help: "Milliseconds a model call waits for other requests to join it when the model is idle (0: none)."
    )
    var batchWaitMs = 0.0

    @Option(name: .long, help: "Largest request body, in bytes.")
    var maxBodyBytes = 1 << 20

    @Option(name: .long, help: "Most queries in one search request.")
    var maxQueries = 64

    @Option(name: .long, help: "Most texts in one embeddings request.")
    var maxInputs = 256

    @Option(name: .long, help: "The token file (`coord tokens add … --tokens FILE`); required off loopback.")
    var tokens: String?

    @Option(
        name: .long,
        help:
            "The coordinator's client endpoint, for /v1/jobs, /v1/workers and re-scoring's on-demand embedding by the workers (\"none\": without)."
    )
    var coordinator = "tcp://127.0.0.1:5556"

    @Option(name: .long, help: "A folder with coordinator.public and client.secret (from `coord keys`), for CURVE.")
    var keys: String?

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0–65535, not \(port)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard (1...256).contains(connections) else { throw ValidationError("--connections must be 1–256") }
        guard (1...4096).contains(maxBatch) else { throw ValidationError("--max-batch must be 1–4096") }
        guard (0...1000).contains(batchWaitMs) else { throw ValidationError("--batch-wait-ms must be 0–1000") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        guard maxQueries >= 1, maxInputs >= 1 else {
            throw ValidationError("--max-queries and --max-inputs must be at least 1")
        }
    }

    func run() throws {
        let logger = logging.logger("driftless.api")
        // The schema must be current before anything is served.
        _ = try database.connect()
        var settings = SearchService.Settings(
            databaseURL: try database.requiredURL(),
            modelsFolder: CoordCLI.modelsFolder(models)
        )
        settings.host = host
        settings.port = port
        settings.indexes = index.isEmpty ? nil : Set(index)
        settings.threads = threads
        settings.connections = connections
        settings.batch = .init(maximumTexts: maxBatch, wait: .microseconds(Int64(batchWaitMs * 1000)))
        settings.maximumBodyBytes = maxBodyBytes
        settings.maximumQueries = maxQueries
        settings.maximumInputs = maxInputs
        do {
            settings.tokens = try tokens.map { try TokenStore(file: $0) }
            if coordinator != "none" {
                settings.coordinator = coordinator
                settings.coordinatorKeys = try keys.map { try CurveKeyStore(folder: $0).clientKeys() }
            }
        } catch { throw fail(error, code: 64) }
        let service: SearchService
        do { service = try SearchService(settings, logger: logger) } catch { throw fail(error, code: 64) }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let host = self.host
        Task {
            do {
                try await service.run { port in
                    logger.info(
                        "serving",
                        metadata: ["url": "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/"]
                    )
                }
            } catch {
                outcome.set("\(error)")
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw fail(error) }
    }

    private final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var message: String?
        func set(_ text: String) { lock.withLock { message = text } }
        var error: String? { lock.withLock { message } }
    }
}
