import Foundation
import Testing
import Wire
import ZeroMQ

@Suite("WireProtocol")
struct WireProtocolTests {
    @Test("every message survives encoding and decoding")
    func roundTrip() throws {
        let document = WireDocument(seq: 3, line: 4, id: "d1", title: "T", text: "x\ty\n\"z\"", metadata: "{\"a\":1}")
        let workerMessages: [WorkerMessage] = [
            .hello(
                .init(
                    worker: "w",
                    host: "h",
                    version: "1",
                    threads: 2,
                    models: [.init(name: "m", weightsHash: "ab", dimension: 384)]
                )
            ),
            .ready(credit: 2), .heartbeat(leases: [1, 2]),
            .shardDone(.init(shard: 1, lease: 2, documents: 3, tokens: 4, embedSeconds: 0.5, commitSeconds: 0.1)),
            .shardFailed(.init(shard: 1, lease: 2, error: "e", retryElsewhere: true)), .shardFenced(shard: 1, lease: 2),
            .goodbye(returning: [5]),
        ]
        for message in workerMessages {
            #expect(try WireProtocol.decode(WorkerMessage.self, from: WireProtocol.encode(message)) == message)
        }
        let coordinatorMessages: [CoordinatorMessage] = [
            .welcome(.init(coordinator: "c", heartbeatSeconds: 1, leaseSeconds: 5)), .refused(reason: "r"),
            .modelRefused(model: "m", reason: "r"), .reset, .heartbeat, .revoke(shard: 1, lease: 2),
            .assign(
                .init(
                    shard: 1,
                    lease: 2,
                    job: 3,
                    index: "i",
                    collectionId: 4,
                    vectorTable: "t",
                    model: "m",
                    weightsHash: "h",
                    dimension: 384,
                    documents: [document]
                )
            ),
        ]
        for message in coordinatorMessages {
            #expect(try WireProtocol.decode(CoordinatorMessage.self, from: WireProtocol.encode(message)) == message)
        }
        let requests: [ClientRequest] = [
            .submit(.init(index: "i", model: "m", shardSize: 64, source: "s")),
            .documents(job: 1, documents: [document]),
            .rejected(job: 1, lines: [.init(line: 3, id: nil, error: "bad")]), .seal(job: 1, documents: 10),
            .status(job: nil),
            .status(job: 7),
        ]
        for request in requests {
            #expect(try WireProtocol.decode(ClientRequest.self, from: WireProtocol.encode(request)) == request)
        }
    }

    @Test(
        "malformed frames are reported, not crashed on",
        arguments: [
            ("", "empty frame"), ("not json", "malformed"), ("{\"type\":\"warp\"}", "unknown message type \"warp\""),
            ("{\"type\":\"ready\"}", "missing field \"credit\""),
            ("{\"type\":\"ready\",\"credit\":\"x\"}", "wrong type"),
            ("[1,2]", "malformed"), ("{\"credit\":1}", "missing field \"type\""),
        ]
    )
    func malformed(frame: String, expected: String) {
        #expect {
            _ = try WireProtocol.decode(WorkerMessage.self, from: Data(frame.utf8))
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test("a DEALER and a ROUTER exchange multipart messages; the ROUTER sees the routing id")
    func sockets() throws {
        let context = try ZeroMQContext()
        let router = try context.socket(.router)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try context.socket(.dealer)
        try dealer.setRoutingId("worker-1")
        try dealer.connect(router.lastEndpoint)
        try dealer.send([Data("hi".utf8)])
        let frames = try #require(try router.receive(timeout: .seconds(5)))
        #expect(frames.map { String(decoding: $0, as: UTF8.self) } == ["worker-1", "hi"])
        try router.send([Data("worker-1".utf8), Data("back".utf8)])
        #expect(try dealer.receive(timeout: .seconds(5)) == [Data("back".utf8)])
        #expect(try dealer.receive(timeout: .milliseconds(10)) == nil)
    }

    @Test("CURVE: an authorised key gets through; another key is refused by the authenticator")
    func curve() throws {
        #expect(CurveKeyPair.isSupported)
        let context = try ZeroMQContext()
        let server = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        #expect(try CurveKeyPair.publicKey(forSecretKey: server.secretKey) == server.publicKey)
        let zap = try ZapAuthenticator(context: context, authorizedKeys: [client.publicKey])
        let router = try context.socket(.router)
        try router.makeCurveServer(secretKey: server.secretKey, authenticationDomain: "test")
        try router.bind("tcp://127.0.0.1:*")

        let good = try context.socket(.dealer)
        try good.makeCurveClient(serverKey: server.publicKey, keys: client)
        try good.connect(router.lastEndpoint)
        try good.send([Data("good".utf8)])
        let bad = try context.socket(.dealer)
        try bad.makeCurveClient(serverKey: server.publicKey, keys: try CurveKeyPair.generate())
        try bad.connect(router.lastEndpoint)
        try bad.send([Data("bad".utf8)])

        var decisions: [Bool] = []
        var received: [String] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while (decisions.count < 2 || received.isEmpty) && ContinuousClock.now < deadline {
            if let decision = try zap.answerPending() { decisions.append(decision.allowed) }
            if let frames = try router.receive(timeout: .milliseconds(20)) {
                received.append(String(decoding: frames[1], as: UTF8.self))
            }
        }
        #expect(decisions.sorted { !$0 && $1 } == [false, true])
        #expect(received == ["good"])
    }

    @Test("coord keys folder: written, read back, never overwritten")
    func keyStore() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)").path
        let store = CurveKeyStore(folder: folder)
        let (server, client) = try store.generate()
        let serverKeys = try store.serverKeys()
        #expect(serverKeys.keys == server)
        #expect(serverKeys.authorized == [client.publicKey])
        #expect(try store.clientKeys().serverKey == server.publicKey)
        #expect(throws: WireSetupError.self) { try store.generate() }
        let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/client.secret")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}
