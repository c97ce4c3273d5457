import DriftlessTestSupport
import Foundation
import PropertyBased
import Testing
import Wire
import ZeroMQ

/// Random and mutated well-formed messages of every type, thrown at a live coordinator with a
/// job running: after every batch it answers `status` within a second, and the job still ends
/// with every document exactly once and none rejected.
extension Integration {
    @Suite("HostileProperties")
    struct HostilePropertyTests {
        /// One generated message: which type, two numbers to fill it with, and how to mutate its JSON.
        struct Draw: Sendable, CustomStringConvertible {
            var kind: Int
            var number: Int
            var id: Int
            var mutation: Int
            var description: String { String(decoding: frame, as: UTF8.self).prefix(300).description }

            static let kinds = 12

            /// The message, well formed before its mutation.
            var frame: Data {
                let id64 = Int64(id)
                let message: Data =
                    switch kind {
                    case 0:
                        WireProtocol.encode(
                            WorkerMessage.hello(
                                .init(
                                    protocolVersion: number % 3,
                                    worker: "prop",
                                    host: "h",
                                    version: "v",
                                    threads: number,
                                    models: [
                                        .init(name: "all-MiniLM-L6-v2", weightsHash: String(number), dimension: id)
                                    ]
                                )
                            )
                        )
                    case 1: WireProtocol.encode(WorkerMessage.ready(credit: number))
                    case 2:
                        WireProtocol.encode(
                            WorkerMessage.heartbeat(leases: (0..<(abs(id) % 50)).map { Int64($0) + id64 })
                        )
                    case 3:
                        WireProtocol.encode(
                            WorkerMessage.shardDone(
                                .init(
                                    shard: id64,
                                    lease: id64 &+ Int64(number % 5),
                                    documents: number,
                                    tokens: number,
                                    embedSeconds: Double(number % 1000),
                                    commitSeconds: 0
                                )
                            )
                        )
                    case 4:
                        WireProtocol.encode(
                            WorkerMessage.shardFailed(
                                .init(
                                    shard: id64,
                                    lease: Int64(number % 64),
                                    error: "prop",
                                    fault: ShardFault.allCases[Int(number.magnitude % UInt(ShardFault.allCases.count))],
                                    certain: number % 3 == 0
                                )
                            )
                        )
                    case 5: WireProtocol.encode(WorkerMessage.shardFenced(shard: id64, lease: Int64(number % 64)))
                    case 6: WireProtocol.encode(WorkerMessage.goodbye(returning: [id64]))
                    case 7:
                        WireProtocol.encode(
                            ClientRequest.submit(
                                .init(
                                    index: "prop",
                                    model: "all-MiniLM-L6-v2",
                                    shardSize: number % 3 == 0 ? number : Int(number.magnitude % 100) + 1,
                                    source: "p",
                                    urgent: number % 2 == 0
                                )
                            )
                        )
                    case 8:
                        WireProtocol.encode(
                            ClientRequest.documents(
                                job: id64,
                                upload: String(number),
                                documents: [.init(line: id, id: "p\(number)", title: "", text: "x")]
                            )
                        )
                    case 9:
                        WireProtocol.encode(
                            ClientRequest.rejected(
                                job: id64,
                                upload: "",
                                lines: [.init(line: number, id: nil, error: "e")]
                            )
                        )
                    case 10:
                        WireProtocol.encode(ClientRequest.seal(job: id64, upload: String(number), documents: number))
                    default: WireProtocol.encode(ClientRequest.status(job: id64))
                    }
                var bytes = [UInt8](message)
                switch mutation {
                case 1: bytes[abs(number) % bytes.count] ^= UInt8(truncatingIfNeeded: id | 1)
                case 2: bytes = Array(bytes.prefix(abs(number) % bytes.count))
                case 3:  // a number where a string was, or the reverse
                    bytes = Array(
                        String(decoding: bytes, as: UTF8.self).replacingOccurrences(
                            of: "\"",
                            with: "",
                            options: [],
                            range: nil
                        ).utf8
                    )
                case 4:
                    bytes = Array(
                        String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\(number)", with: "1e400").utf8
                    )
                case 5:
                    bytes =
                        Array("{\"type\":\"ready\",\"credit\":".utf8) + [UInt8](repeating: 0x5B, count: 5000)
                        + Array("1".utf8)
                case 6:
                    bytes = Array(
                        String(decoding: bytes, as: UTF8.self).replacingOccurrences(
                            of: "}",
                            with: ",\"extra\":[1,{\"x\":null}]}"
                        ).utf8
                    )
                default: break
                }
                return Data(bytes)
            }

            var isClient: Bool { (7...11).contains(kind) }
        }

        static let draws = zip(
            Gen.int(in: 0...(Draw.kinds - 1)),
            Gen.int(in: Int.min...Int.max),
            Gen.int(in: -2...40),
            Gen.int(in: 0...8)
        ).map { Draw(kind: $0, number: $1, id: $2, mutation: $3) }.array(of: 1...40)

        @Test("random and mutated messages of every type: the coordinator stays up and responsive, the job intact")
        func randomMessages() async throws {
            let cluster = try TestCluster()
            let coordinator = try cluster.startCoordinator(["--metrics-port", "0"])
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(96)
            let job = try #require(try cluster.submitDetached(corpus, index: "prop", shardSize: 4))
            let context = try ZeroMQContext()
            let welcomed = try context.socket(.dealer)
            try welcomed.setRoutingId("prop")
            try welcomed.connect(cluster.workerEndpoint)
            let stranger = try context.socket(.dealer)
            try stranger.connect(cluster.workerEndpoint)
            let client = try context.socket(.dealer)
            try client.connect(cluster.clientEndpoint)
            let status = try CoordinatorClient(endpoint: cluster.clientEndpoint, timeout: .seconds(1))
            var batches = 0

            // Welcomed once; it stays welcomed, because the hellos and goodbyes drawn go to the stranger
            // (whose routing id no hello can match), so both kinds of worker peer are exercised throughout.
            let hello = WireProtocol.encode(
                WorkerMessage.hello(.init(worker: "prop", host: "h", version: "v", threads: 1, models: []))
            )
            try welcomed.send([hello])
            let welcome = try #require(try welcomed.receive(timeout: .seconds(20)))
            #expect(String(decoding: welcome.last!, as: UTF8.self).contains("welcome"))
            await propertyCheck(count: 60, input: Self.draws) { draws in
                for (n, draw) in draws.enumerated() {
                    let toStranger = n % 2 == 1 || draw.kind == 0 || draw.kind == 6
                    let socket = draw.isClient ? client : (toStranger ? stranger : welcomed)
                    try socket.send([draw.frame], wait: false)
                }
                while (try? client.receive(timeout: .zero)) ?? nil != nil {}
                for socket in [welcomed, stranger] { while (try? socket.receive(timeout: .zero)) ?? nil != nil {} }
                let start = ContinuousClock.now
                let reply = try status.request(.status(job: nil))
                guard case .status = reply else {
                    Issue.record("status answered \(reply)")
                    return
                }
                #expect(ContinuousClock.now - start < .seconds(1))
                #expect(coordinator.isRunning)
                batches += 1
            }
            #expect(batches == 60, "\(coordinator.log.suffix(4000))")
            // The offences were seen as such: out-of-range values, lease messages from a non-holder.
            let page = try coordinator.metricsPage()
            let dropped = page.split(separator: "\n").filter { $0.hasPrefix("driftless_dropped_messages_total{") }
            for reason in ["malformed", "invalid", "not_lease_holder", "not_welcomed", "not_job_owner"] {
                let line = dropped.first { $0.hasPrefix("driftless_dropped_messages_total{reason=\"\(reason)\"} ") }
                #expect(
                    line.map { !$0.hasSuffix(" 0") } == true,
                    "\(reason) not counted: \(dropped)\n\(coordinator.log.suffix(3000))"
                )
            }
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            #expect(coordinator.isRunning, "\(coordinator.log.suffix(3000))")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "prop", ids: check.ids(documents))
            #expect(try cluster.database.count("SELECT count(*) FROM rejected_documents") == 0, "\(cluster.logs)")
            // Jobs the random submits opened were never sealed by anyone else.
            #expect(
                try cluster.database.count(
                    "SELECT count(*) FROM jobs WHERE id <> $1 AND state NOT IN ('receiving')",
                    [String(job)]
                ) == 0
            )
        }
    }
}
