import DriftlessTestSupport
import Foundation
import Testing
import Wire
import ZeroMQ

/// Each fault ends with every document present exactly once.
extension Integration {
    @Suite("Faults")
    struct FaultTests {
        let count = 96

        /// Waits until `worker` holds a lease (it is mid-shard).
        func waitUntilLeased(_ cluster: TestCluster, _ worker: ManagedProcess) throws -> Bool {
            try eventually(60, poll: 0.05) {
                try cluster.database.count("SELECT count(*) FROM shard_leases") > 0 && worker.log.contains("connected")
            }
        }

        @Test("a worker killed with SIGKILL mid-shard: its shard is dealt again")
        func workerKilled() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            let victim = try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(count)
            let job = try #require(try cluster.submitDetached(corpus, index: "kill"))
            #expect(try waitUntilLeased(cluster, victim))
            Thread.sleep(forTimeInterval: 0.5)
            victim.kill9()
            try cluster.startWorker()
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            #expect(cluster.coordinator!.log.contains("lease lapsed"), "\(cluster.coordinator!.log)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "kill", ids: check.ids(documents))
        }

        @Test("the coordinator killed and restarted mid-job: the job resumes")
        func coordinatorRestarted() throws {
            let cluster = try TestCluster()
            let original = try cluster.startCoordinator()
            try cluster.startWorker()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(count)
            let job = try #require(try cluster.submitDetached(corpus, index: "restart"))
            #expect(
                try eventually(60) {
                    try cluster.database.count("SELECT count(*) FROM shards WHERE state = 'done'") >= 2
                }
            )
            original.kill9()
            Thread.sleep(forTimeInterval: 1)
            let restarted = try cluster.startCoordinator()
            #expect(restarted.log.contains("job resumed"), "\(restarted.log)")
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "restart", ids: check.ids(documents))
        }

        @Test("a worker that stalls past its lease and then commits is fenced")
        func stalledWorkerFenced() throws {
            let cluster = try TestCluster(leaseSeconds: 3)
            try cluster.startCoordinator()
            let staller = try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(48)
            let job = try #require(try cluster.submitDetached(corpus, index: "stall", shardSize: 24))
            #expect(try waitUntilLeased(cluster, staller))
            Thread.sleep(forTimeInterval: 0.3)
            staller.signal(SIGSTOP)
            #expect(cluster.coordinator!.waitForLog("lease lapsed", seconds: 30), "\(cluster.coordinator!.log)")
            try cluster.startWorker()
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            staller.signal(SIGCONT)
            #expect(staller.waitForLog("commit fenced, nothing written", seconds: 60), "\(staller.log)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "stall", ids: check.ids(documents))
        }

        @Test("a worker joining mid-job takes shards")
        func workerJoins() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(count)
            let job = try #require(try cluster.submitDetached(corpus, index: "join"))
            #expect(
                try eventually(60) {
                    try cluster.database.count("SELECT count(*) FROM shards WHERE state = 'done'") >= 1
                }
            )
            let late = try cluster.startWorker()
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            let lateId = try #require(late.workerId)
            #expect(
                try cluster.database.count("SELECT count(*) FROM shards WHERE state = 'done' AND worker = $1", [lateId])
                    > 0
            )
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "join", ids: check.ids(documents))
        }

        @Test("PostgreSQL restarted mid-job: workers and coordinator reconnect")
        func databaseRestarted() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            try cluster.startWorker()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(count)
            let job = try #require(try cluster.submitDetached(corpus, index: "pgrestart"))
            #expect(
                try eventually(60) {
                    try cluster.database.count("SELECT count(*) FROM shards WHERE state = 'done'") >= 2
                }
            )
            TestDatabase.restartServer(downSeconds: 3)
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            #expect(cluster.coordinator!.log.contains("database connection restored"), "\(cluster.coordinator!.log)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "pgrestart", ids: check.ids(documents))
        }

        @Test("a document that makes the worker fail every time is isolated and rejected; the rest is indexed")
        func poisonDocument() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            let (corpus, documents) = try TestResources.scifactSubset(40)
            let poison = documents[13]["_id"] as! String
            try cluster.startWorker(environment: ["DRIFTLESS_FAULTS": "fail-doc=\(poison)"])
            try cluster.startWorker(environment: ["DRIFTLESS_FAULTS": "fail-doc=\(poison)"])
            let job = try #require(try cluster.submitDetached(corpus, index: "poison", shardSize: 16))
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "poison", ids: check.ids(documents).filter { $0 != poison })
            let rejected = try cluster.database.connect().execute("SELECT doc_id, error FROM rejected_documents")
            #expect(rejected.rows.count == 1)
            #expect(rejected.rows.first?[0] == poison)
            #expect(rejected.rows.first?[1]?.contains("injected failure") == true, "\(rejected.rows)")
            let status = try cluster.coord(["status", String(job)])
            #expect(status.stdout.contains("rejected 1"), "\(status.stdout)")
        }

        @Test(
            "a cluster of one worker: a document that fails on it every time is rejected after --second-worker-seconds; the job ends"
        )
        func poisonDocumentOneWorker() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator(["--second-worker-seconds", "3"])
            let (corpus, documents) = try TestResources.scifactSubset(24)
            let poison = documents[5]["_id"] as! String
            try cluster.startWorker(environment: ["DRIFTLESS_FAULTS": "fail-doc=\(poison)"])
            let job = try #require(try cluster.submitDetached(corpus, index: "alone", shardSize: 8))
            // Before, the lone document waited for a second worker that never came: the job never ended.
            #expect(try cluster.waitForJob(job, seconds: 90) == "done", "\(cluster.logs)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "alone", ids: check.ids(documents).filter { $0 != poison })
            let rejected = try cluster.database.connect().execute("SELECT doc_id, error FROM rejected_documents")
            #expect(rejected.rows.map { $0[0] } == [poison])
            #expect(rejected.rows.first?[1]?.contains("no other came within 3 s") == true, "\(rejected.rows)")
        }

        @Test("a worker whose weights differ from the registry's is refused that model")
        func differentWeights() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            let impostorModels = try TestCluster.modelFolder([
                "all-MiniLM-L6-v2": TestResources.model("all-MiniLM-L6-v2-scifact-ft")
            ])
            let impostor = try cluster.startWorker(models: impostorModels, waitForWelcome: false)
            #expect(impostor.waitForLog("model refused by the coordinator", seconds: 60), "\(impostor.log)")
            #expect(cluster.coordinator!.log.contains("worker's model refused"), "\(cluster.coordinator!.log)")
            try Self.refusedWorkerGetsNoShard(cluster, impostor, index: "weights")
        }

        @Test("a worker whose prompts differ from the registry's (same weights) is refused that model")
        func differentPrompts() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            // all-MiniLM-L6-v2's files, but a "document" prompt the registry does not know.
            let source = URL(fileURLWithPath: TestResources.minilm)
            let copy = try TestResources.temporaryDirectory().appendingPathComponent("all-MiniLM-L6-v2")
            try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: source.path)
            where name != "config_sentence_transformers.json" {
                try FileManager.default.createSymbolicLink(
                    at: copy.appendingPathComponent(name),
                    withDestinationURL: source.appendingPathComponent(name)
                )
            }
            try Data(#"{"prompts": {"document": "passage: "}, "default_prompt_name": null}"#.utf8).write(
                to: copy.appendingPathComponent("config_sentence_transformers.json")
            )
            let impostor = try cluster.startWorker(
                models: try TestCluster.modelFolder(["all-MiniLM-L6-v2": copy.path]),
                waitForWelcome: false
            )
            #expect(impostor.waitForLog("model refused by the coordinator", seconds: 60), "\(impostor.log)")
            #expect(
                cluster.coordinator!.log.contains(
                    #"its prompts {"document":"passage: "} differ from the registry's {}"#
                ),
                "\(cluster.coordinator!.log)"
            )
            try Self.refusedWorkerGetsNoShard(cluster, impostor, index: "prompts")
        }

        /// A job while only the refused worker is up deals nothing; a proper worker then does it all,
        /// exactly once. `extra`: more `coord submit` flags. Returns the documents indexed.
        @discardableResult
        static func refusedWorkerGetsNoShard(
            _ cluster: TestCluster,
            _ impostor: ManagedProcess,
            index: String,
            extra: [String] = []
        ) throws -> [[String: Any]] {
            let (corpus, documents) = try TestResources.scifactSubset(24)
            let job = try #require(try cluster.submitDetached(corpus, index: index, extra: extra))
            Thread.sleep(forTimeInterval: 2)
            #expect(
                try cluster.database.count("SELECT count(*) FROM shards WHERE state <> 'pending'") == 0,
                "no shard may go to the refused worker"
            )
            try cluster.startWorker()
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            let impostorId = try #require(impostor.workerId)
            #expect(try cluster.database.count("SELECT count(*) FROM shards WHERE worker = $1", [impostorId]) == 0)
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: index, ids: check.ids(documents))
            return documents
        }

        @Test("a job for a model no connected worker runs says so while it waits; a worker with it finishes it")
        func nobodyCanRun() throws {
            let cluster = try TestCluster(models: [
                "all-MiniLM-L6-v2": TestResources.minilm, "all-mpnet-base-v2": TestResources.model("all-mpnet-base-v2"),
            ])
            try cluster.startCoordinator()
            try cluster.startWorker(models: try TestCluster.modelFolder(["all-MiniLM-L6-v2": TestResources.minilm]))
            let (corpus, documents) = try TestResources.scifactSubset(6)
            let submit = try ManagedProcess(
                name: "submit",
                executable: TestResources.coordExecutable,
                arguments: [
                    "submit", corpus.path, "--index", "nobody", "--model", "all-mpnet-base-v2", "--coordinator",
                    cluster.clientEndpoint,
                ]
            )
            #expect(
                submit.waitForLog(
                    "waiting: no connected worker can run all-mpnet-base-v2 (1 connected worker(s) do not have it)",
                    seconds: 60
                ),
                "\(submit.log)"
            )
            try cluster.startWorker()
            #expect(submit.wait(seconds: 120) == 0, "\(submit.log)\n\(cluster.logs)")
            #expect(submit.log.contains("6 documents indexed into nobody"), "\(submit.log)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "nobody", ids: check.ids(documents))
        }

        @Test("malformed and unauthenticated messages are dropped and logged; the coordinator keeps serving")
        func malformedAndUnauthenticated() throws {
            let cluster = try TestCluster(keys: true)
            let coordinator = try cluster.startCoordinator()
            let context = try ZeroMQContext()

            // No keys at all: the CURVE handshake fails, nothing reaches the coordinator.
            let stranger = try context.socket(.dealer)
            try stranger.connect(cluster.workerEndpoint)
            try stranger.send([Data("{\"type\":\"hello\"}".utf8)], wait: false)
            // Keys the coordinator does not know: refused by the authenticator, and logged.
            let impostorKeys = try CurveKeyPair.generate()
            let impostor = try context.socket(.dealer)
            let serverKey = try CurveKeyStore(folder: cluster.workerKeysFolder!).clientKeys().serverKey
            try impostor.makeCurveClient(serverKey: serverKey, keys: impostorKeys)
            try impostor.connect(cluster.workerEndpoint)
            try impostor.send([Data("{\"type\":\"ready\",\"credit\":1}".utf8)], wait: false)
            #expect(coordinator.waitForLog("connection refused: key not authorised", seconds: 20), "\(coordinator.log)")
            #expect(coordinator.log.contains(impostorKeys.publicKey))

            // An authorised peer sending garbage: every message dropped and logged.
            let keys = try CurveKeyStore(folder: cluster.workerKeysFolder!).clientKeys()
            let noisy = try context.socket(.dealer)
            try noisy.setRoutingId("noisy")
            try noisy.makeCurveClient(serverKey: keys.serverKey, keys: keys.keys)
            try noisy.connect(cluster.workerEndpoint)
            for frame in [
                "not json", "{\"type\":\"launch_missiles\"}", "{\"type\":\"shard_done\",\"shard\":\"x\"}", "[]", "",
            ] {
                try noisy.send([Data(frame.utf8)])
            }
            try noisy.send([Data("a".utf8), Data("b".utf8)])
            // Logged once per peer and reason (the rest are counted), and a 3-frame message as oversized.
            #expect(coordinator.waitForLog("peer=noisy reason=malformed", seconds: 20), "\(coordinator.log)")
            #expect(coordinator.waitForLog("a message of 3 frames", seconds: 20), "\(coordinator.log)")
            let clientKeys = try CurveKeyStore(folder: cluster.clientKeysFolder!).clientKeys()
            let clientNoise = try context.socket(.dealer)
            try clientNoise.makeCurveClient(serverKey: clientKeys.serverKey, keys: clientKeys.keys)
            try clientNoise.connect(cluster.clientEndpoint)
            try clientNoise.send([Data("{\"type\":\"seal\"}".utf8)])
            let reply = try #require(try clientNoise.receive(timeout: .seconds(20)))
            #expect(String(decoding: reply.last!, as: UTF8.self).contains("malformed"))

            // Still serving: an authorised worker indexes a corpus.
            #expect(coordinator.isRunning)
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(16)
            let job = try #require(try cluster.submitDetached(corpus, index: "secure"))
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "secure", ids: check.ids(documents))
        }
    }
}
