import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import Search
import ServiceLifecycle
import Synchronization
import Wire

/// `coord api`: warm models behind an HTTP API (search, OpenAI-compatible embeddings, indexes,
/// jobs, workers, health, metrics) and a status page at `/`, on Hummingbird in a
/// ServiceGroup. Searches and model calls block (libpq, the models) and run on a thread pool of
/// their own; concurrent queries share one model call (``MicroBatcher``). On SIGTERM or SIGINT
/// it drains: requests in flight finish, new ones get 503 `shutting_down`, then it stops.
public final class SearchService: Sendable {
    public struct Settings: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var databaseURL: String
        public var modelsFolder: String
        /// Indexes served; nil: every index.
        public var indexes: Set<String>?
        /// Threads of each model call.
        public var threads = 2
        /// Database connections, hence searches running in PostgreSQL at once.
        public var connections = 8
        public var batch = MicroBatcher.Limits()
        public var maximumBodyBytes = 1 << 20
        public var maximumQueries = 64
        public var maximumInputs = 256
        /// Required from every caller but for `/`, `/healthz` and `/readyz` (nil: no tokens; only on loopback).
        public var tokens: TokenStore?
        public var coordinator: String?
        public var coordinatorKeys: CurveKeyStore.ClientKeys?
        /// Longest wait for requests in flight when stopping.
        public var drainTimeout = Duration.seconds(30)

        public init(databaseURL: String, modelsFolder: String) {
            self.databaseURL = databaseURL
            self.modelsFolder = modelsFolder
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case tokensRequired(host: String)
        case cannotServe(String)
        public var description: String {
            switch self {
            case .tokensRequired(let host):
                "serving on \(host), off loopback, needs bearer tokens: make one with `coord tokens add NAME --role read --tokens FILE` and pass --tokens FILE"
            case .cannotServe(let reason): "cannot serve: \(reason)"
            }
        }
    }

    let settings: Settings
    let logger: Logger
    let engine: SearchEngine
    let metrics = ServiceMetrics()
    let pool: NIOThreadPool
    let state = Mutex(State())

    struct State {
        var draining = false
        var inFlight = 0
        var ready = false
        var missing: [String: String] = [:]
    }

    public init(_ settings: Settings, logger: Logger) throws(Failure) {
        if settings.tokens == nil && !Self.isLoopback(settings.host) { throw .tokensRequired(host: settings.host) }
        self.settings = settings
        self.logger = logger
        let metrics = self.metrics
        let models = WarmModels(
            modelsFolder: settings.modelsFolder,
            threads: settings.threads,
            limits: settings.batch,
            onBatch: { metrics.batchSizes.record(Double($0)) }
        )
        engine = SearchEngine(
            settings: .init(
                modelsFolder: settings.modelsFolder,
                indexes: settings.indexes,
                maximumQueries: settings.maximumQueries,
                maximumInputs: settings.maximumInputs
            ),
            lanes: SearchLanes(url: settings.databaseURL, count: settings.connections),
            models: models,
            coordinator: settings.coordinator.map {
                CoordinatorLink(endpoint: $0, keys: settings.coordinatorKeys, logger: logger)
            }
        )
        // Each request waiting on a lane or a model call holds a thread.
        pool = NIOThreadPool(numberOfThreads: max(16, settings.connections * 4))
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Serves until SIGTERM or SIGINT (then drains) or ``stop()``; `onListening` gets the bound port.
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        pool.start()
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        )
        let signals = Self.watchSignals { [weak self] signal in
            guard let self else { return }
            self.logger.notice("\(signal): draining (requests in flight finish, new ones get 503)")
            Task { await self.drain(then: group) }
        }
        defer { for source in signals { source.cancel() } }
        // Models load in the background: /readyz says 503 until they have.
        Task.detached { [engine, logger] in
            let missing = engine.warmUp()
            for (model, reason) in missing {
                logger.error("model not loaded", metadata: ["model": "\(model)", "reason": "\(reason)"])
            }
            self.state.withLock {
                $0.ready = true
                $0.missing = missing
            }
            logger.info("models warm", metadata: ["models": "\(engine.models.names.joined(separator: ", "))"])
        }
        self.group.withLock { $0 = group }
        do { try await group.run() } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
        try? await pool.shutdownGracefully()
    }

    private let group = Mutex<ServiceGroup?>(nil)

    /// Drains and stops, as SIGTERM does.
    public func stop() {
        guard let group = group.withLock({ $0 }) else { return }
        Task { await drain(then: group) }
    }

    private func drain(then group: ServiceGroup) async {
        let already = state.withLock { state in
            defer { state.draining = true }
            return state.draining
        }
        guard !already else { return }
        let deadline = ContinuousClock.now + settings.drainTimeout
        while state.withLock({ $0.inFlight }) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let left = state.withLock { $0.inFlight }
        if left > 0 { logger.warning("stopping with requests still in flight", metadata: ["requests": "\(left)"]) }
        logger.notice("stopped serving")
        await group.triggerGracefulShutdown()
    }

    private static func watchSignals(_ handler: @escaping @Sendable (String) -> Void) -> [any DispatchSourceSignal] {
        [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")].map { signalNumber, name in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { handler(name) }
            source.resume()
            return source
        }
    }

    /// Runs blocking work on the service's threads.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }
}
