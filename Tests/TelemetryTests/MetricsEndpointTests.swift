import Foundation
import Logging
import Prometheus
import Telemetry
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The metrics endpoint is a real HTTP server with limits.
@Suite("MetricsEndpoint", .serialized)
struct MetricsEndpointTests {
    /// A raw TCP connection to 127.0.0.1:`port`.
    final class Connection {
        let descriptor: Int32
        init(port: Int) throws {
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            #expect(connected == 0)
        }
        deinit { close(descriptor) }

        func send(_ text: String) {
            _ = text.withCString { Glibc.send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        }

        /// `read(seconds:)` on a thread of its own, so that no thread of Swift concurrency's pool
        /// (which the server's handlers need) waits on the socket.
        func received(seconds: Double) async -> (text: String, closed: Bool) {
            await withCheckedContinuation { continuation in
                let box = UncheckedBox(self)
                Thread.detachNewThread { continuation.resume(returning: box.value.read(seconds: seconds)) }
            }
        }

        /// What arrives within `seconds` (until the peer closes): the text, and whether it closed.
        func read(seconds: Double) -> (text: String, closed: Bool) {
            var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                if count == 0 { return (String(decoding: received, as: UTF8.self), true) }
                // A reset (the server closed with our request unread) is a close too.
                if count < 0 { return (String(decoding: received, as: UTF8.self), errno == ECONNRESET) }
                received += buffer.prefix(count)
                if String(decoding: received, as: UTF8.self).contains("\r\n\r\n"), !received.isEmpty,
                    String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1"), complete(received)
                {
                    return (String(decoding: received, as: UTF8.self), false)
                }
            }
        }

        private func complete(_ bytes: [UInt8]) -> Bool {
            let text = String(decoding: bytes, as: UTF8.self)
            guard let head = text.range(of: "\r\n\r\n"),
                let length = text[..<head.lowerBound].split(separator: "\r\n").first(where: {
                    $0.lowercased().hasPrefix("content-length:")
                })
                .flatMap({ Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) })
            else { return false }
            return text.utf8.count - text[..<head.upperBound].utf8.count >= length
        }
    }

    func serve(_ limits: MetricsEndpoint.Limits = .init()) async throws -> (MetricsEndpoint, Int) {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(name: "driftless_test_total", labels: [], help: "A test counter.").increment(by: Int64(3))
        let endpoint = try await MetricsEndpoint.start(
            registry: registry,
            host: "127.0.0.1",
            port: 0,
            limits: limits,
            logger: Logger(label: "test")
        )
        let port = try #require(endpoint.endpoint.split(separator: ":").last.flatMap { Int($0) })
        return (endpoint, port)
    }

    @Test("GET /metrics is Prometheus text; other paths are 404; a large body is 413")
    func routes() async throws {
        let (endpoint, port) = try await serve()
        defer { endpoint.stop() }
        let metrics = try Connection(port: port)
        metrics.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let page = (await metrics.received(seconds: 5)).text
        #expect(page.hasPrefix("HTTP/1.1 200"), "\(page)")
        #expect(page.contains("driftless_test_total 3"), "\(page)")
        let other = try Connection(port: port)
        other.send("GET /admin HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect((await other.received(seconds: 5)).text.hasPrefix("HTTP/1.1 404"))
        let large = try Connection(port: port)
        large.send(
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 8192)
        )
        #expect((await large.received(seconds: 5)).text.hasPrefix("HTTP/1.1 413"))
    }

    @Test("a silent connection is closed after the read timeout; a connection beyond the cap is closed at once")
    func limits() async throws {
        var limits = MetricsEndpoint.Limits()
        limits.readTimeout = .seconds(2)
        limits.maximumConnections = 4
        let (endpoint, port) = try await serve(limits)
        defer { endpoint.stop() }
        let silent = try Connection(port: port)
        #expect((await silent.received(seconds: 5)).closed, "an idle connection must be closed")

        // Four connections held open (each with a partial request); a fifth is closed at once.
        let held = try (0..<4).map { _ in try Connection(port: port) }
        for connection in held { connection.send("GET /metrics HTTP/1.1\r\n") }
        try await Task.sleep(for: .milliseconds(200))
        let fifth = try Connection(port: port)
        fifth.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let refused = await fifth.received(seconds: 1)
        #expect(refused.text.isEmpty && refused.closed, "a fifth connection was served beyond the cap of 4: \(refused)")
        // Once the held ones time out, a new connection is served.
        #expect((await held[0].received(seconds: 5)).closed)
        try await Task.sleep(for: .milliseconds(200))
        let later = try Connection(port: port)
        later.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = (await later.received(seconds: 5)).text
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
    }
}

private final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
