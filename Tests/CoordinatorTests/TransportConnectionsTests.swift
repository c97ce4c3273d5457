import Coordinator
import Testing

@Suite("TransportConnections")
struct TransportConnectionsTests {
    @Test("a connection that delivered nothing closes as silent; one that spoke does not")
    func silent() {
        var connections = TransportConnections()
        connections.accepted(7, endpoint: .worker, address: "10.0.0.5:4100", now: 1)
        connections.accepted(8, endpoint: .worker, address: "10.0.0.6:4100", now: 1)
        connections.delivered(8, endpoint: .worker, now: 2)
        #expect(connections.closed(7, endpoint: .worker)?.messages == 0)
        #expect(connections.closed(7, endpoint: .worker) == nil, "forgotten once closed")
        #expect(connections.closed(8, endpoint: .worker)?.messages == 1)
        #expect(connections.count(endpoint: .worker) == 0)
    }

    @Test("a message read before its accept event still counts; a reused descriptor starts afresh")
    func ordering() {
        var connections = TransportConnections()
        connections.delivered(9, endpoint: .client, now: 1)
        connections.accepted(9, endpoint: .client, address: "127.0.0.1:5000", now: 1)
        let first = connections.closed(9, endpoint: .client)
        #expect(first?.messages == 1 && first?.address == "127.0.0.1:5000")
        connections.accepted(9, endpoint: .client, address: "127.0.0.1:5001", now: 2)
        #expect(connections.closed(9, endpoint: .client)?.messages == 0)
        connections.accepted(9, endpoint: .worker, address: nil, now: 2)
        #expect(connections.closed(9, endpoint: .client) == nil, "endpoints are apart")
    }
}
