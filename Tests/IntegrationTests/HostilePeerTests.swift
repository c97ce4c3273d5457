import Corpus
import DriftlessTestSupport
import Foundation
import Synchronization
import Testing
import Wire
import ZeroMQ

/// Peers that lie, forge or flood, against a live coordinator with a job running (real sockets,
/// a real worker, real PostgreSQL). After each attack: the coordinator is up, it answered
/// `status` within a second throughout, the job finished with every document exactly once and
/// none rejected, and the offence was logged and counted.
extension Integration {
    @Suite("HostilePeers")
    struct HostilePeerTests {
        /// Asks the coordinator for its status every 200 ms from a thread of its own, with a 1 s
        /// timeout, and keeps the slowest answer and the failures.
        final class StatusProbe: Sendable {
            private let state = Mutex<(worst: Double, answers: Int, failures: [String], stop: Bool)>((0, 0, [], false))
            private let done = DispatchSemaphore(value: 0)

            init(endpoint: String) {
                Thread.detachNewThread { [self] in
                    defer { done.signal() }
                    guard let client = try? CoordinatorClient(endpoint: endpoint, timeout: .seconds(1)) else {
                        state.withLock { $0.failures.append("no client") }
                        return
                    }
                    while !state.withLock({ $0.stop }) {
                        let start = ContinuousClock.now
                        let reply = try? client.request(.status(job: nil))
                        let seconds = (ContinuousClock.now - start) / .seconds(1)
                        state.withLock {
                            $0.worst = max($0.worst, seconds)
                            if case .status = reply {
                                $0.answers += 1
                            } else {
                                $0.failures.append("\(String(describing: reply)) after \(seconds) s")
                            }
                        }
                        Thread.sleep(forTimeInterval: 0.2)
                    }
                }
            }

            /// Stops probing: (slowest answer in seconds, answers, failures).
            func finish() -> (worst: Double, answers: Int, failures: [String]) {
                state.withLock { $0.stop = true }
                done.wait()
                return state.withLock { ($0.worst, $0.answers, $0.failures) }
            }
        }

        /// Starts a coordinator (with metrics) and one worker, submits `count` documents in shards of 4,
        /// runs `attack` once a shard is leased, and checks every invariant after it.
        func underAttack(
            _ index: String,
            count: Int = 48,
            offence: String,
            metric: String,
            _ attack: (TestCluster, Int64, ZeroMQContext) throws -> Void
        ) throws {
            let cluster = try TestCluster()
            let coordinator = try cluster.startCoordinator(["--metrics-port", "0"])
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(count)
            let job = try #require(try cluster.submitDetached(corpus, index: index, shardSize: 4))
            #expect(
                try eventually(60, poll: 0.05) { try cluster.database.count("SELECT count(*) FROM shard_leases") > 0 }
            )
            let probe = StatusProbe(endpoint: cluster.clientEndpoint)
            let context = try ZeroMQContext()
            try attack(cluster, job, context)
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            let status = probe.finish()
            #expect(coordinator.isRunning, "\(coordinator.log.suffix(3000))")
            #expect(status.failures.isEmpty && status.worst < 1, "status: \(status)")
            #expect(status.answers > 0)
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: index, ids: check.ids(documents))
            #expect(try cluster.database.count("SELECT count(*) FROM rejected_documents") == 0, "\(cluster.logs)")
            #expect(
                coordinator.log.contains(offence),
                "expected «\(offence)» in the log:\n\(coordinator.log.suffix(3000))"
            )
            #expect(try coordinator.metric(metric) > 0, "\(metric) not counted")
            let cli = try cluster.coord(["status", "\(job)"])
            #expect(cli.status == 0 && cli.stdout.contains("done"), "\(cli.stdout)\(cli.stderr)")
        }

        /// A DEALER on the worker endpoint with routing id `id`, welcomed (its hello announces no model,
        /// so it is never dealt a shard) unless `hello` is false.
        func peer(
            _ cluster: TestCluster,
            _ context: ZeroMQContext,
            id: String,
            hello: Bool = true
        ) throws -> ZeroMQSocket {
            let socket = try context.socket(.dealer)
            try socket.setRoutingId(id)
            try socket.connect(cluster.workerEndpoint)
            if hello {
                try socket.send([
                    WireProtocol.encode(
                        WorkerMessage.hello(.init(worker: id, host: "h", version: "evil", threads: 1, models: []))
                    )
                ])
                let reply = try #require(try socket.receive(timeout: .seconds(20)))
                #expect(String(decoding: reply.last!, as: UTF8.self).contains("welcome"))
            }
            return socket
        }

        static let forgedDone =
            #"{"type":"shard_done","shard":1,"lease":0,"documents":-1,"tokens":-5,"embedSeconds":0,"commitSeconds":0}"#

        @Test("(a) the shard_done that killed the coordinator: negative counts, lease 0, with and without hello")
        func negativeShardDone() throws {
            try underAttack(
                "hostile-a",
                offence: "shard_done: shard 1, lease 0",
                metric: #"driftless_dropped_messages_total{reason="invalid"}"#
            ) {
                cluster,
                _,
                context in
                let stranger = try peer(cluster, context, id: "stranger", hello: false)
                let welcomed = try peer(cluster, context, id: "welcomed")
                for _ in 0..<50 {
                    try stranger.send([Data(Self.forgedDone.utf8)])
                    try welcomed.send([Data(Self.forgedDone.utf8)])
                }
                // Again once shard 1 is committed (a negative count then reached the metrics and trapped).
                #expect(
                    try eventually(60, poll: 0.05) {
                        try cluster.database.scalar("SELECT state FROM shards WHERE id = 1") == "done"
                    }
                )
                try welcomed.send([Data(Self.forgedDone.utf8)])
                try welcomed.send([
                    Data(Self.forgedDone.replacingOccurrences(of: #""lease":0"#, with: #""lease":1"#).utf8)
                ])
                // Well formed and in range, from a peer never welcomed: dropped too.
                try stranger.send([
                    WireProtocol.encode(
                        WorkerMessage.shardDone(
                            .init(shard: 1, lease: 1, documents: 4, tokens: 9, embedSeconds: 1, commitSeconds: 0)
                        )
                    )
                ])
                #expect(
                    cluster.coordinator!.waitForLog("shard_done before hello", seconds: 20),
                    "\(cluster.coordinator!.log)"
                )
            }
        }

        @Test("(b) ready with credit Int.max")
        func hugeCredit() throws {
            try underAttack(
                "hostile-b",
                offence: "credit 9223372036854775807",
                metric: #"driftless_dropped_messages_total{reason="invalid"}"#
            ) {
                cluster,
                _,
                context in
                let greedy = try peer(cluster, context, id: "greedy")
                for _ in 0..<3 { try greedy.send([Data(#"{"type":"ready","credit":9223372036854775807}"#.utf8)]) }
                try greedy.send([Data(#"{"type":"ready","credit":-9223372036854775808}"#.utf8)])
            }
        }

        @Test("(c) shard_done for every shard id 1…20,000 without a lease")
        func shardDoneFlood() throws {
            try underAttack(
                "hostile-c",
                offence: "which it does not hold",
                metric: #"driftless_dropped_messages_total{reason="not_lease_holder"}"#
            ) {
                cluster,
                _,
                context in
                let forger = try peer(cluster, context, id: "forger")
                for shard in 1...20_000 {
                    let done = WorkerMessage.shardDone(
                        .init(
                            shard: Int64(shard),
                            lease: Int64(shard),
                            documents: 4,
                            tokens: 100,
                            embedSeconds: 1,
                            commitSeconds: 0.1
                        )
                    )
                    try forger.send([WireProtocol.encode(done)])
                }
            }
        }

        @Test("(d) forged shard_failed for lease tokens 1…5,000, repeated, on the job's real shards")
        func shardFailedFlood() throws {
            try underAttack(
                "hostile-d",
                offence: "shard_failed for shard",
                metric: #"driftless_dropped_messages_total{reason="not_lease_holder"}"#
            ) {
                cluster,
                job,
                context in
                let shards = try cluster.database.connect().execute(
                    "SELECT id FROM shards WHERE job_id = $1",
                    [String(job)]
                ).rows.map { Int64($0[0]!)! }
                let forger = try peer(cluster, context, id: "splitter")
                for token in 1...5_000 {
                    try forger.send([
                        WireProtocol.encode(
                            WorkerMessage.shardFailed(
                                .init(shard: shards[token % shards.count], lease: Int64(token), error: "forged")
                            )
                        )
                    ])
                }
                // Then the live leases themselves, as a peer that guessed them would, again and again:
                // honoured, these would split healthy shards until their documents were rejected.
                let database = try cluster.database.connect()
                for _ in 0..<40 {
                    for lease in try database.execute("SELECT token, shard_id FROM shard_leases").rows {
                        let failed = WorkerMessage.shardFailed(
                            .init(shard: Int64(lease[1]!)!, lease: Int64(lease[0]!)!, error: "forged")
                        )
                        try forger.send([WireProtocol.encode(failed)])
                    }
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }
        }

        @Test("(e) a heartbeat naming leases it was never given adopts none of them")
        func heartbeatAdoption() throws {
            try underAttack(
                "hostile-e",
                offence: "heartbeat named",
                metric: #"driftless_dropped_messages_total{reason="not_lease_holder"}"#
            ) {
                cluster,
                _,
                context in
                let thief = try peer(cluster, context, id: "thief")
                for _ in 0..<20 {
                    try thief.send([WireProtocol.encode(WorkerMessage.heartbeat(leases: Array(1...4000)))])
                    Thread.sleep(forTimeInterval: 0.05)
                }
                // Had it adopted them, these would close the real worker's shards unembedded.
                let leases = try cluster.database.connect().execute("SELECT token, shard_id FROM shard_leases").rows
                for lease in leases {
                    let done = WorkerMessage.shardDone(
                        .init(
                            shard: Int64(lease[1]!)!,
                            lease: Int64(lease[0]!)!,
                            documents: 4,
                            tokens: 9,
                            embedSeconds: 1,
                            commitSeconds: 0
                        )
                    )
                    try thief.send([WireProtocol.encode(done)])
                }
            }
        }

        @Test("(f) a second client cannot push documents into, or seal, another client's job")
        func foreignUpload() throws {
            let cluster = try TestCluster()
            let coordinator = try cluster.startCoordinator(["--metrics-port", "0"])
            try cluster.startWorker()
            let (_, documents) = try TestResources.scifactSubset(12)
            let wire = documents.enumerated().map { n, object in
                Document(
                    line: n + 1,
                    id: object["_id"] as! String,
                    title: object["title"] as? String ?? "",
                    text: object["text"] as! String
                )
            }
            let owner = try CoordinatorClient(endpoint: cluster.clientEndpoint)
            guard
                case .accepted(let job, let upload) = try owner.request(
                    .submit(.init(index: "hostile-f", model: "all-MiniLM-L6-v2", shardSize: 4, source: "test"))
                )
            else {
                Issue.record("not accepted")
                return
            }
            #expect(
                try owner.request(.documents(job: job, upload: upload, documents: Array(wire.prefix(6))))
                    == .ack(job: job, received: 6)
            )

            let intruder = try CoordinatorClient(endpoint: cluster.clientEndpoint)
            let junk = [Document(line: 1, id: "junk", title: "", text: "injected")]
            for attempt in ["", "0000000000000000", String(upload.reversed())] {
                let pushed = try intruder.request(.documents(job: job, upload: attempt, documents: junk))
                #expect(
                    pushed
                        == .failure(
                            message:
                                "job \(job) was opened by another client: only it may add documents to it or seal it"
                        ),
                    "\(pushed)"
                )
                let sealed = try intruder.request(.seal(job: job, upload: attempt, documents: 6))
                guard case .failure = sealed else {
                    Issue.record("the intruder sealed: \(sealed)")
                    return
                }
            }
            // The owner goes on as if nothing happened.
            #expect(
                try owner.request(.documents(job: job, upload: upload, documents: Array(wire.dropFirst(6))))
                    == .ack(job: job, received: 12)
            )
            guard case .sealed = try owner.request(.seal(job: job, upload: upload, documents: 12)) else {
                Issue.record("not sealed")
                return
            }
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "hostile-f", ids: check.ids(documents))
            #expect(coordinator.log.contains("opened by another client"))
            #expect(try coordinator.metric(#"driftless_dropped_messages_total{reason="not_job_owner"}"#) == 6)
        }

        @Test("(g) a 20-frame message of 200 MB a frame, on both endpoints")
        func hugeMessage() throws {
            try underAttack(
                "hostile-g",
                offence: "a message of 3 frames",
                metric: #"driftless_dropped_messages_total{reason="oversized"}"#
            ) {
                cluster,
                _,
                _ in
                let chunk = Data(count: 1 << 20)
                for endpoint in [cluster.workerEndpoint, cluster.clientEndpoint] {
                    let flooder = try RawZMTPPeer(endpoint: endpoint)
                    var sent = 0
                    for frame in 0..<20 {
                        guard flooder.sendFrame(size: 200 << 20, more: frame < 19, chunk: chunk) else { break }
                        sent += 1
                    }
                    // libzmq refuses a frame over the endpoint's bound at its header and hangs up.
                    #expect(sent < 20, "the coordinator took 20 frames of 200 MB on \(endpoint)")
                }
                // That hang-up is the offence's one trace: logged and counted per endpoint.
                let coordinator = cluster.coordinator!
                for endpoint in ["worker", "client"] {
                    #expect(
                        coordinator.waitForLog(
                            "to the \(endpoint) endpoint closed after",
                            seconds: 20
                        ),
                        "\(coordinator.log.suffix(3000))"
                    )
                    #expect(
                        try coordinator.metric(#"driftless_silent_connections_total{endpoint="\#(endpoint)"}"#) == 1
                    )
                }
                #expect(coordinator.log.contains("without delivering one whole message"))
                // Small frames, too many of them: read whole, dropped unapplied, logged.
                let flooder = try RawZMTPPeer(endpoint: cluster.workerEndpoint)
                for frame in 0..<2 { #expect(flooder.sendFrame(size: 1000, more: frame < 1, chunk: chunk)) }
                #expect(
                    cluster.coordinator!.waitForLog("a message of 3 frames", seconds: 20),
                    "\(cluster.coordinator!.log)"
                )
            }
        }

        @Test("(h) a hello announcing a million models, and one just over the cap")
        func millionModels() throws {
            try underAttack(
                "hostile-h",
                offence: "257 models",
                metric: #"driftless_dropped_messages_total{reason="invalid"}"#
            ) {
                cluster,
                _,
                context in
                func hello(_ id: String, models: Int) -> Data {
                    let announced = (0..<models).map {
                        WorkerMessage.ModelAnnouncement(name: "m\($0)", weightsHash: "00", dimension: 8)
                    }
                    return WireProtocol.encode(
                        WorkerMessage.hello(
                            .init(worker: id, host: "h", version: "evil", threads: 1, models: announced)
                        )
                    )
                }
                let million = try peer(cluster, context, id: "million", hello: false)
                try million.send([hello("million", models: 1_000_000)])
                let over = try peer(cluster, context, id: "over", hello: false)
                try over.send([hello("over", models: WireLimits.modelsPerHello + 1)])
                #expect(cluster.coordinator!.waitForLog("257 models", seconds: 20), "\(cluster.coordinator!.log)")
                #expect(try over.receive(timeout: .seconds(2)) == nil, "a refused hello gets no welcome")
                // The million-model hello (about 60 MB, over the worker endpoint's frame bound) is
                // refused by libzmq at its header: its hang-up is logged and counted.
                #expect(
                    cluster.coordinator!.waitForLog("to the worker endpoint closed after", seconds: 20),
                    "\(cluster.coordinator!.log.suffix(3000))"
                )
                #expect(
                    try cluster.coordinator!.metric(#"driftless_silent_connections_total{endpoint="worker"}"#) >= 1
                )
            }
        }

        @Test("(i) a burst of 2,000 hellos from one peer: the registry is read once a second at most")
        func helloFlood() throws {
            try underAttack(
                "hostile-i",
                offence: "s after the last one",
                metric: #"driftless_dropped_messages_total{reason="too_frequent"}"#
            ) {
                cluster,
                _,
                context in
                let chatty = try peer(cluster, context, id: "chatty", hello: false)
                let hello = WireProtocol.encode(
                    WorkerMessage.hello(
                        .init(
                            worker: "chatty",
                            host: "h",
                            version: "v",
                            threads: 1,
                            models: (0..<256).map { .init(name: "m\($0)", weightsHash: "00", dimension: 8) }
                        )
                    )
                )
                for _ in 0..<2000 { try chatty.send([hello]) }
                var welcomes = 0
                while let reply = try chatty.receive(timeout: .seconds(2)) {
                    if String(decoding: reply.last!, as: UTF8.self).contains("welcome") { welcomes += 1 }
                }
                #expect(welcomes >= 1 && welcomes <= 3, "\(welcomes) welcomes for 2,000 hellos in a burst")
            }
        }
    }
}
