import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// Serves `GET /metrics` (Prometheus text format) from a registry over HTTP, on Hummingbird
/// (its own event loops, beside the daemon's thread). Limits: at most
/// ``Limits/maximumConnections`` open connections (one more is closed at once), a connection
/// idle for ``Limits/readTimeout`` is closed, a request body over
/// ``Limits/maximumRequestBytes`` gets 413, other paths 404.
/// Binds loopback unless told otherwise (`--metrics-host`).
public final class MetricsEndpoint: Sendable {
    public struct Limits: Sendable {
        public var maximumConnections = 32
        /// A connection that sends nothing for this long is closed.
        public var readTimeout = Duration.seconds(10)
        public var maximumRequestBytes = 4096
        public init() {}
    }

    /// The address actually bound, e.g. `tcp://127.0.0.1:9464`.
    public let endpoint: String
    private let group: ServiceGroup

    public enum Failure: Error, CustomStringConvertible {
        case cannotServe(host: String, port: Int, reason: String)
        public var description: String {
            switch self {
            case .cannotServe(let host, let port, let reason): "cannot serve metrics on \(host):\(port): \(reason)"
            }
        }
    }

    /// Binds `host:port` (port 0: any free port) and starts serving; returns once it listens.
    /// Blocks the calling thread while it starts: call it from a daemon's own thread, not from
    /// Swift concurrency's pool (async code uses ``start(registry:host:port:limits:logger:)``).
    public init(
        registry: PrometheusCollectorRegistry,
        host: String,
        port: Int,
        limits: Limits = Limits(),
        logger: Logger
    ) throws(Failure) {
        let (group, started) = Self.launch(registry: registry, host: host, port: port, limits: limits, logger: logger)
        self.group = group
        endpoint = try Self.bound(started.wait(seconds: 30), host: host, port: port)
        logger.info("metrics served", metadata: ["endpoint": "http://\(endpoint.dropFirst("tcp://".count))/metrics"])
    }

    private init(group: ServiceGroup, endpoint: String) {
        self.group = group
        self.endpoint = endpoint
    }

    /// The same, for async callers: waits without blocking a thread.
    public static func start(
        registry: PrometheusCollectorRegistry,
        host: String,
        port: Int,
        limits: Limits = Limits(),
        logger: Logger
    ) async throws(Failure) -> MetricsEndpoint {
        let (group, started) = launch(registry: registry, host: host, port: port, limits: limits, logger: logger)
        var outcome = started.current
        let deadline = ContinuousClock.now + .seconds(30)
        while outcome == nil && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
            outcome = started.current
        }
        let endpoint = MetricsEndpoint(group: group, endpoint: try bound(outcome, host: host, port: port))
        logger.info(
            "metrics served",
            metadata: ["endpoint": "http://\(endpoint.endpoint.dropFirst("tcp://".count))/metrics"]
        )
        return endpoint
    }

    private static func bound(_ outcome: Result<Int, any Error>?, host: String, port: Int) throws(Failure) -> String {
        switch outcome {
        case .success(let bound): "tcp://\(host):\(bound)"
        case .failure(let error): throw .cannotServe(host: host, port: port, reason: "\(error)")
        case nil: throw .cannotServe(host: host, port: port, reason: "the server did not start within 30 s")
        }
    }

    private static func launch(
        registry: PrometheusCollectorRegistry,
        host: String,
        port: Int,
        limits: Limits,
        logger: Logger
    ) -> (ServiceGroup, Started) {
        let router = Router()
        router.add(middleware: BodyLimit(maximumBytes: limits.maximumRequestBytes))
        router.get("/metrics") { _, _ -> Response in
            var body: [UInt8] = []
            registry.emit(into: &body)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
        let started = Started()
        let open = OpenConnections(limit: limits.maximumConnections)
        var quiet = logger
        quiet.logLevel = .warning
        let app = Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [ConnectionCap(open)],
                    idleTimeout: .milliseconds(Int64(limits.readTimeout / .milliseconds(1)))
                )
            ),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in started.finish(.success(channel.localAddress?.port ?? port)) },
            logger: quiet
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: quiet))
        Task { [group] in
            do { try await group.run() } catch { started.finish(.failure(error)) }
            started.finish(.failure(CancellationError()))
        }
        return (group, started)
    }

    /// Stops serving (open requests finish first).
    public func stop() {
        let group = self.group
        Task { await group.triggerGracefulShutdown() }
    }
}

/// 413 for a request whose body is larger than `maximumBytes` (a GET has none).
private struct BodyLimit<Context: RequestContext>: RouterMiddleware {
    let maximumBytes: Int

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maximumBytes {
            throw HTTPError(.contentTooLarge, message: "request bodies are limited to \(maximumBytes) bytes")
        }
        var request = request
        _ = try await request.collectBody(upTo: maximumBytes)
        return try await next(request, context)
    }
}

/// The outcome of starting, handed from the server's task to the thread that waits for it.
private final class Started: Sendable {
    private let outcome = Mutex<Result<Int, any Error>?>(nil)
    private let signal = DispatchSemaphore(value: 0)

    func finish(_ result: Result<Int, any Error>) {
        let first = outcome.withLock { current in
            guard current == nil else { return false }
            current = result
            return true
        }
        if first { signal.signal() }
    }

    var current: Result<Int, any Error>? { outcome.withLock { $0 } }

    func wait(seconds: Int) -> Result<Int, any Error>? {
        guard signal.wait(timeout: .now() + .seconds(seconds)) == .success else { return nil }
        return outcome.withLock { $0 }
    }
}

/// How many connections are open, shared by every connection's ``ConnectionCap``.
private final class OpenConnections: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)
    init(limit: Int) { self.limit = limit }

    /// Counts a new connection (it is counted until it closes, refused or not); false when
    /// that makes more than `limit`.
    func open() -> Bool { count.wrappingAdd(1, ordering: .relaxed).newValue <= limit }
    func close() { count.wrappingSubtract(1, ordering: .relaxed) }
}

/// Closes a connection at once when ``OpenConnections/limit`` are already open (the daemon's
/// metrics need no more; a flood of connections must not hold its memory or descriptors).
private final class ConnectionCap: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let open: OpenConnections
    init(_ open: OpenConnections) { self.open = open }

    func channelActive(context: ChannelHandlerContext) {
        if open.open() {
            context.fireChannelActive()
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        open.close()
        context.fireChannelInactive()
    }
}
