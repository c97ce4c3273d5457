import DriftlessTestSupport
import Foundation
import Testing
import Wire

/// Keys and endpoints that would let strangers in are refused at start, with the fix named.
extension Integration {
    @Suite("Keys")
    struct KeyTests {
        @Test("without keys, an endpoint that libzmq would bind beyond loopback is refused (the `;` form too)")
        func nonLoopbackWithoutKeys() throws {
            let database = try TestDatabase()
            let port = Int.random(in: 10_000...15_999) * 2
            for bind in ["tcp://127.0.0.1:0;0.0.0.0:\(port)", "tcp://0.0.0.0:\(port)", "tcp://127.0.0.1.evil:\(port)"] {
                let run = try TestResources.run(
                    TestResources.coordExecutable,
                    [
                        "serve", "--database", database.url, "--bind", bind, "--client-bind",
                        "tcp://127.0.0.1:\(port + 1)",
                    ]
                )
                #expect(run.status != 0, "\(bind) was accepted")
                #expect(
                    run.stderr.contains("not a loopback address") && run.stderr.contains("--keys"),
                    "\(bind): \(run.stderr)"
                )
            }
        }

        @Test(
            "a secret key file that others can read is refused by the coordinator, a worker and a client, naming the fix"
        )
        func worldReadableSecret() throws {
            let cluster = try TestCluster(keys: true)
            let folder = try #require(cluster.keysFolder)
            let serverSecret = folder + "/coordinator.secret"
            #expect(try FileManager.default.attributesOfItem(atPath: serverSecret)[.posixPermissions] as? Int == 0o600)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: serverSecret)
            let coordinator = try TestResources.run(
                TestResources.coordExecutable,
                [
                    "serve", "--database", cluster.database.url, "--bind", cluster.workerEndpoint, "--client-bind",
                    cluster.clientEndpoint, "--keys", folder,
                ]
            )
            #expect(coordinator.status != 0)
            #expect(coordinator.stderr.contains("chmod 600 \(serverSecret)"), "\(coordinator.stderr)")

            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: serverSecret)
            let clientSecret = try #require(cluster.clientKeysFolder) + "/client.secret"
            let workerSecret = try #require(cluster.workerKeysFolder) + "/client.secret"
            for secret in [clientSecret, workerSecret] {
                #expect(try FileManager.default.attributesOfItem(atPath: secret)[.posixPermissions] as? Int == 0o600)
                try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: secret)
            }
            let status = try cluster.coord(["status"])
            #expect(status.status != 0)
            #expect(status.stderr.contains("chmod 600 \(clientSecret)"), "\(status.stderr)")
            let worker = try TestResources.runWorker([
                "serve", "--coordinator", cluster.workerEndpoint, "--database", cluster.database.url, "--models",
                cluster.modelsFolder.path, "--keys", cluster.workerKeysFolder!,
            ])
            #expect(worker.status != 0)
            #expect(worker.stderr.contains("chmod 600 \(workerSecret)"), "\(worker.stderr)")
        }

        /// `coord keys …` with `arguments`; its output.
        func keys(_ arguments: [String]) throws -> TestResources.Run {
            try TestResources.run(TestResources.coordExecutable, ["keys"] + arguments)
        }

        @Test("roles: a worker key on the client endpoint and a client key on the worker endpoint are refused, by name")
        func rolesPerEndpoint() throws {
            let cluster = try TestCluster(keys: true)
            let coordinator = try cluster.startCoordinator()
            let folder = try #require(cluster.keysFolder)
            #expect(try keys(["add", "reader", "--role", "client", "--keys", folder]).status == 0)
            let duplicate = try keys(["add", "reader", "--role", "worker", "--keys", folder])
            #expect(
                duplicate.status != 0 && duplicate.stderr.contains("a peer named reader exists"),
                "\(duplicate.stderr)"
            )
            let badRole = try keys(["add", "root", "--role", "superuser", "--keys", folder])
            #expect(badRole.status == 64, "\(badRole.stderr)")
            let list = try keys(["list", "--keys", folder])
            #expect(
                list.stdout.contains("test-worker") && list.stdout.contains("reader") && list.stdout.contains("admin"),
                "\(list.stdout)"
            )

            // The worker's key as a client: the handshake is refused, the client times out.
            let asClient = try TestResources.run(
                TestResources.coordExecutable,
                [
                    "status", "--coordinator", cluster.clientEndpoint, "--keys", cluster.workerKeysFolder!, "--timeout",
                    "2",
                ]
            )
            #expect(asClient.status != 0)
            #expect(
                coordinator.waitForLog(
                    "test-worker has role worker, which may not use the clients endpoint",
                    seconds: 20
                ),
                "\(coordinator.log)"
            )
            // A client's key as a worker: refused; it never joins.
            let impostor = try cluster.startWorker(
                waitForWelcome: false,
                extra: ["--keys", folder + "/peers.d/reader"]
            )
            #expect(
                coordinator.waitForLog("reader has role client, which may not use the workers endpoint", seconds: 30),
                "\(coordinator.log)"
            )
            #expect(!impostor.log.contains("connected to the coordinator"))
            impostor.kill9()

            // The right keys work, and status names the worker's key.
            try cluster.startWorker()
            let status = try cluster.coord(["status"])
            #expect(
                status.status == 0 && status.stdout.contains("(key test-worker)"),
                "\(status.stdout)\(status.stderr)"
            )
            // A client (not admin) may not submit urgent jobs; the admin may.
            let client = try CoordinatorClient(
                endpoint: cluster.clientEndpoint,
                keys: try CurveKeyStore(folder: folder + "/peers.d/reader").clientKeys()
            )
            let urgent = ClientRequest.submit(
                .init(index: "u", model: "all-MiniLM-L6-v2", shardSize: 4, source: "t", urgent: true)
            )
            #expect(
                try client.request(urgent)
                    == .failure(message: "urgent jobs need a key with the admin role; reader has role client")
            )
            let admin = try CoordinatorClient(
                endpoint: cluster.clientEndpoint,
                keys: try CurveKeyStore(folder: cluster.clientKeysFolder!).clientKeys()
            )
            guard case .accepted = try admin.request(urgent) else {
                Issue.record("the admin's urgent submit was refused")
                return
            }
        }

        @Test("a key revoked mid-job is refused at once, without a restart; the job completes with the other worker")
        func revokedMidJob() throws {
            let cluster = try TestCluster(keys: true)
            let coordinator = try cluster.startCoordinator()
            let folder = try #require(cluster.keysFolder)
            #expect(try keys(["add", "doomed", "--role", "worker", "--keys", folder]).status == 0)
            let doomed = try cluster.startWorker(extra: ["--keys", folder + "/peers.d/doomed"])
            let (corpus, documents) = try TestResources.scifactSubset(48)
            let job = try #require(try cluster.submitDetached(corpus, index: "revoked", shardSize: 4))
            #expect(
                try eventually(60, poll: 0.05) {
                    try cluster.database.count("SELECT count(*) FROM shards WHERE state = 'done'") >= 1
                }
            )
            let revoke = try keys(["revoke", "doomed", "--keys", folder])
            #expect(revoke.status == 0, "\(revoke.stderr)")
            #expect(try keys(["list", "--keys", folder]).stdout.contains("revoked"))
            #expect(coordinator.waitForLog("whose key is revoked", seconds: 20), "\(coordinator.log)")
            // Its connection no longer counts; a new connection with that key is refused too.
            doomed.kill9()
            let again = try cluster.startWorker(waitForWelcome: false, extra: ["--keys", folder + "/peers.d/doomed"])
            #expect(coordinator.waitForLog("key of doomed revoked", seconds: 30), "\(coordinator.log)")
            try cluster.startWorker()
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            #expect(!again.log.contains("connected to the coordinator"))
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "revoked", ids: check.ids(documents))
        }
    }
}
