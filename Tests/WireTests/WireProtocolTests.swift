import Corpus
import Foundation
import Testing
import Wire
import ZeroMQ

@Suite("WireProtocol")
struct WireProtocolTests {
    @Test("every message survives encoding and decoding")
    func roundTrip() throws {
        let document = Document(seq: 3, line: 4, id: "d1", title: "T", text: "x\ty\n\"z\"", metadata: "{\"a\":1}")
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
            .shardFailed(.init(shard: 1, lease: 2, error: "e", fault: .worker)),
            .shardFailed(.init(shard: 1, lease: 2, error: "e", fault: .document, certain: true)),
            .shardFenced(shard: 1, lease: 2),
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
                    documentCount: 2
                )
            ),
        ]
        for message in coordinatorMessages {
            #expect(try WireProtocol.decode(CoordinatorMessage.self, from: WireProtocol.encode(message)) == message)
        }
        let requests: [ClientRequest] = [
            .submit(.init(index: "i", model: "m", shardSize: 64, source: "s")),
            .documents(job: 1, upload: "u", documents: [document]),
            .rejected(job: 1, upload: "u", lines: [.init(line: 3, id: nil, error: "bad")]),
            .seal(job: 1, upload: "u", documents: 10), .status(job: nil),
            .status(job: 7), .cancel(job: 3),
            .reembed(.init(index: "i", successor: "i@m", ids: ["a", "b"], shardSize: 4, urgent: true)),
            .reembed(.init(index: "i", successor: "i@m", ids: nil, shardSize: 64)),
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

    @Test(
        "well-formed messages with values out of range are refused as invalid, naming the field",
        arguments: [
            (
                "{\"type\":\"shard_done\",\"shard\":1,\"lease\":0,\"documents\":-1,\"tokens\":-5,\"embedSeconds\":0,\"commitSeconds\":0}",
                "shard_done: shard 1, lease 0"
            ),
            (
                "{\"type\":\"shard_done\",\"shard\":1,\"lease\":2,\"documents\":-1,\"tokens\":5,\"embedSeconds\":0,\"commitSeconds\":0}",
                "documents -1"
            ),
            (
                "{\"type\":\"shard_done\",\"shard\":1,\"lease\":2,\"documents\":1,\"tokens\":-5,\"embedSeconds\":0,\"commitSeconds\":0}",
                "tokens -5"
            ),
            (
                "{\"type\":\"shard_done\",\"shard\":1,\"lease\":2,\"documents\":1,\"tokens\":5,\"embedSeconds\":-1,\"commitSeconds\":0}",
                "embedSeconds"
            ),
            ("{\"type\":\"ready\",\"credit\":9223372036854775807}", "credit 9223372036854775807"),
            ("{\"type\":\"ready\",\"credit\":-3}", "credit -3"),
            ("{\"type\":\"heartbeat\",\"leases\":[0]}", "not positive"),
            ("{\"type\":\"shard_fenced\",\"shard\":-1,\"lease\":1}", "shard_fenced"),
            (
                "{\"type\":\"hello\",\"protocolVersion\":2,\"worker\":\"w\",\"host\":\"h\",\"version\":\"v\",\"threads\":0,\"models\":[]}",
                "threads 0"
            ),
        ]
    )
    func outOfRange(frame: String, expected: String) {
        #expect {
            _ = try WireProtocol.decode(WorkerMessage.self, from: Data(frame.utf8))
        } throws: { error in
            guard case WireError.invalid(let reason) = error else { return false }
            return reason.contains(expected)
        }
    }

    @Test("a shard dealt with no documents, or too many, is refused as invalid")
    func assignOutOfRange() throws {
        for count in [0, -1, 1_000_001] {
            let frame =
                "{\"type\":\"assign\",\"shard\":1,\"lease\":2,\"job\":3,\"index\":\"i\",\"collectionId\":4,"
                + "\"vectorTable\":\"t\",\"model\":\"m\",\"weightsHash\":\"h\",\"dimension\":384,\"documentCount\":\(count)}"
            #expect {
                _ = try WireProtocol.decode(CoordinatorMessage.self, from: Data(frame.utf8))
            } throws: { error in
                guard case WireError.invalid(let reason) = error else { return false }
                return reason.contains("assign: \(count) documents")
            }
        }
    }

    @Test("a welcome asking for heartbeats or leases out of range is refused as invalid")
    func welcomeOutOfRange() throws {
        for (heartbeat, lease) in [(0.0, 5.0), (1.0, -1.0), (1.0, 1e9)] {
            let welcome = CoordinatorMessage.welcome(
                .init(coordinator: "c", heartbeatSeconds: heartbeat, leaseSeconds: lease)
            )
            #expect(throws: WireError.self) {
                try WireProtocol.decode(CoordinatorMessage.self, from: WireProtocol.encode(welcome))
            }
        }
    }

    @Test("a hello's precisions round-trip; an unknown one, or too many, is refused as invalid")
    func helloPrecisions() throws {
        func hello(_ precisions: [String]?) -> WorkerMessage {
            .hello(
                .init(
                    worker: "w",
                    host: "h",
                    version: "v",
                    threads: 1,
                    models: [.init(name: "m", weightsHash: "h", dimension: 8, precisions: precisions)]
                )
            )
        }
        for fine in [nil, ["fp32"], ["fp32", "bf16", "int8"]] {
            #expect(try WireProtocol.decode(WorkerMessage.self, from: WireProtocol.encode(hello(fine))) == hello(fine))
        }
        for bad in [["fp8"], ["fp32", "bf16", "int8", "int8"]] {
            #expect(throws: WireError.self) {
                try WireProtocol.decode(WorkerMessage.self, from: WireProtocol.encode(hello(bad)))
            }
        }
    }

    @Test("lists inside messages are capped: models in a hello, leases in a heartbeat, documents in a chunk")
    func listsCapped() throws {
        let models = (0...WireLimits.modelsPerHello).map {
            WorkerMessage.ModelAnnouncement(name: "m\($0)", weightsHash: "h", dimension: 8)
        }
        let hello = WorkerMessage.hello(.init(worker: "w", host: "h", version: "v", threads: 1, models: models))
        #expect(throws: WireError.self) {
            try WireProtocol.decode(WorkerMessage.self, from: WireProtocol.encode(hello))
        }
        let heartbeat = WorkerMessage.heartbeat(leases: Array(1...Int64(WireLimits.leasesPerMessage + 1)))
        #expect(throws: WireError.self) {
            try WireProtocol.decode(WorkerMessage.self, from: WireProtocol.encode(heartbeat))
        }
        let documents = (0...WireLimits.documentsPerChunk).map {
            Document(line: $0 + 1, id: "d\($0)", title: "", text: "t")
        }
        #expect(throws: WireError.self) {
            try WireProtocol.decode(
                ClientRequest.self,
                from: WireProtocol.encode(ClientRequest.documents(job: 1, upload: "u", documents: documents))
            )
        }
        let fine = ClientRequest.documents(job: 1, upload: "u", documents: Array(documents.prefix(10)))
        #expect(try WireProtocol.decode(ClientRequest.self, from: WireProtocol.encode(fine)) == fine)
    }

    @Test("a message over the frame or byte bound is consumed whole and dropped without copying")
    func boundedReceive() throws {
        let context = try ZeroMQContext()
        let router = try context.socket(.router)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try context.socket(.dealer)
        try dealer.connect(router.lastEndpoint)
        try dealer.send(Array(repeating: Data("x".utf8), count: 5))
        try dealer.send([Data(count: 5000)])
        try dealer.send([Data("ok".utf8)])
        func next() throws -> ZeroMQSocket.BoundedMessage? {
            try router.receive(timeout: .seconds(5), maximumFrames: 2, maximumBytes: 1000)
        }
        guard case .oversized(let count, let total, let connection) = try next() else {
            Issue.record("expected the 5-frame message to be over the bound")
            return
        }
        #expect(count == 6 && total == 5 + 5 && connection != nil)
        guard case .oversized(let frames, let bytes, _) = try next() else {
            Issue.record("expected the 5000-byte message to be over the bound")
            return
        }
        #expect(frames == 2 && bytes > 5000)
        guard case .message(let ok, _, _) = try next() else {
            Issue.record("expected the small message")
            return
        }
        #expect(ok.last == Data("ok".utf8))
    }

    @Test("the monitor ties a connection's accept, its messages and its close by descriptor, and names the peer")
    func monitor() throws {
        let context = try ZeroMQContext()
        let router = try context.socket(.router)
        let monitor = try router.monitor()
        try router.bind("tcp://127.0.0.1:*")
        let port = try #require(router.lastEndpoint.split(separator: ":").last.flatMap { UInt16($0) })
        var dealer: ZeroMQSocket? = try context.socket(.dealer)
        try dealer!.connect(router.lastEndpoint)
        try dealer!.send([Data("hi".utf8)])
        guard
            case .message(_, _, let connection?) = try router.receive(
                timeout: .seconds(5),
                maximumFrames: 2,
                maximumBytes: 100
            )
        else {
            Issue.record("expected a message with its connection")
            return
        }
        #expect(try monitor.socket.poll(timeout: .seconds(5)))
        #expect(monitor.next() == .accepted(descriptor: connection))
        let address = try #require(ZeroMQMonitor.peerAddress(of: connection, localPort: port))
        #expect(address.hasPrefix("127.0.0.1:") && !address.hasSuffix(":\(port)"))
        #expect(ZeroMQMonitor.peerAddress(of: connection, localPort: port &+ 1) == nil, "another endpoint's port")
        dealer = nil
        #expect(try monitor.socket.poll(timeout: .seconds(5)))
        #expect(monitor.next() == .disconnected(descriptor: connection))
        #expect(monitor.next() == nil)
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
        let zap = try ZapAuthenticator(
            context: context,
            peers: PeerDirectory(fixed: [Peer(name: "c", role: .client, publicKey: client.publicKey)])
        )
        let router = try context.socket(.router)
        try router.makeCurveServer(secretKey: server.secretKey, authenticationDomain: PeerRole.clientDomain)
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

    @Test("per-peer keys: init, add with a role, revoke; a running directory sees changes without a restart")
    func peerKeys() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)").path
        let store = CurveKeyStore(folder: folder)
        let server = try store.initialize()
        #expect(throws: WireSetupError.self) { try store.initialize() }
        let (worker, workerFolder) = try store.addPeer(name: "w1", role: .worker)
        #expect(workerFolder == folder + "/peers.d/w1")
        #expect(try CurveKeyStore(folder: workerFolder).clientKeys().serverKey == server.publicKey)
        #expect(try CurveKeyStore(folder: workerFolder).clientKeys().keys.publicKey == worker.publicKey)
        #expect(throws: WireSetupError.self) { try store.addPeer(name: "w1", role: .client) }
        #expect(throws: WireSetupError.self) { try store.addPeer(name: "../evil", role: .client) }
        let keys = try store.serverKeys()
        #expect(!keys.legacy)
        #expect(keys.peers.peer(forKey: worker.publicKey)?.name == "w1")
        #expect(
            PeerRole.worker.mayConnect(to: PeerRole.workerDomain)
                && !PeerRole.worker.mayConnect(to: PeerRole.clientDomain)
        )
        #expect(
            PeerRole.admin.mayConnect(to: PeerRole.clientDomain)
                && !PeerRole.client.mayConnect(to: PeerRole.workerDomain)
        )
        let (admin, _) = try store.addPeer(name: "ops", role: .admin)
        _ = try store.revoke(name: "w1")
        #expect(throws: WireSetupError.self) { try store.revoke(name: "nobody") }
        // The directory re-reads the changed file (checked at most every 200 ms).
        #expect(
            try eventuallyTrue(seconds: 3) {
                keys.peers.peer(forKey: worker.publicKey)?.revoked == true
                    && keys.peers.peer(named: "ops")?.publicKey == admin.publicKey
            }
        )
        #expect(try store.registry.load().map(\.name) == ["w1", "ops"])
        try "w1 overlord \(worker.publicKey)\n".write(toFile: store.registry.path, atomically: true, encoding: .utf8)
        #expect {
            try store.registry.load()
        } throws: { error in
            "\(error)".contains("peers:1: expected")
        }
    }

    func eventuallyTrue(seconds: Double, _ condition: () -> Bool) throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }

    @Test("coord keys folder: written, read back, never overwritten")
    func keyStore() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)").path
        let store = CurveKeyStore(folder: folder)
        let (server, client) = try store.generate()
        let serverKeys = try store.serverKeys()
        #expect(serverKeys.keys == server)
        #expect(serverKeys.legacy)
        #expect(serverKeys.peers.peer(forKey: client.publicKey)?.role == .legacy)
        #expect(try store.clientKeys().serverKey == server.publicKey)
        #expect(throws: WireSetupError.self) { try store.generate() }
        let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/client.secret")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        // A secret that others can read is refused, naming the fix; a public file may be readable.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: folder + "/client.secret")
        #expect {
            try store.clientKeys()
        } throws: { error in
            "\(error)".contains("chmod 600 \(folder)/client.secret")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: folder + "/client.secret")
        #expect(try store.clientKeys().serverKey == server.publicKey)
    }
}
