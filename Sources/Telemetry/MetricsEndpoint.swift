import Foundation
import Logging
import Prometheus
import Synchronization
import ZeroMQ

/// Serves `GET /metrics` (Prometheus text format) from a registry, on its own
/// thread, over a ZeroMQ STREAM socket (raw TCP: no HTTP library needed for
/// one read-only page). Each response closes its connection.
public final class MetricsEndpoint: Sendable {
    private let state = StopState()
    /// The address actually bound, e.g. `tcp://127.0.0.1:9464`.
    public let endpoint: String

    /// Binds `host:port` (port 0: any free port) and starts serving.
    public init(registry: PrometheusCollectorRegistry, host: String, port: Int, logger: Logger) throws(ZeroMQError) {
        let context = try ZeroMQContext()
        let socket = try context.socket(.stream)
        try socket.bind("tcp://\(host):\(port == 0 ? "*" : String(port))")
        endpoint = socket.lastEndpoint
        let box = SocketBox(socket: socket)
        let thread = Thread { [state] in
            let socket = box.take()
            while !state.stopped.load(ordering: .relaxed) {
                guard let frames = try? socket.receive(timeout: .milliseconds(200)), frames.count == 2 else { continue }
                let (peer, request) = (frames[0], frames[1])
                // A connect or disconnect notification is an empty frame.
                guard !request.isEmpty else { continue }
                let line = String(decoding: request.prefix(while: { $0 != 0x0D && $0 != 0x0A }), as: UTF8.self)
                var body: [UInt8] = []
                let status: String
                if line.hasPrefix("GET /metrics") {
                    registry.emit(into: &body)
                    status = "200 OK"
                } else {
                    body = Array("only GET /metrics is served here\n".utf8)
                    status = "404 Not Found"
                }
                let head =
                    "HTTP/1.1 \(status)\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
                try? socket.send([peer, Data(head.utf8) + Data(body)])
                try? socket.send([peer, Data()])
            }
            _ = context
        }
        thread.name = "metrics"
        thread.start()
        logger.info("metrics served", metadata: ["endpoint": "http://\(endpoint.dropFirst("tcp://".count))/metrics"])
    }

    public func stop() { state.stopped.store(true, ordering: .relaxed) }
}

/// Hands a socket to the thread that will own it.
private final class SocketBox: @unchecked Sendable {
    private var socket: ZeroMQSocket?
    init(socket: ZeroMQSocket) { self.socket = socket }
    func take() -> ZeroMQSocket {
        defer { socket = nil }
        return socket!
    }
}

private final class StopState: Sendable {
    let stopped = Atomic<Bool>(false)
}
