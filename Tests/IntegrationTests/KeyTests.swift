import DriftlessTestSupport
import Foundation
import Testing

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
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: folder + "/client.secret")
            let status = try cluster.coord(["status"])
            #expect(status.status != 0)
            #expect(status.stderr.contains("chmod 600 \(folder)/client.secret"), "\(status.stderr)")
            let worker = try TestResources.runWorker([
                "serve", "--coordinator", cluster.workerEndpoint, "--database", cluster.database.url, "--models",
                cluster.modelsFolder.path,
                "--keys", folder,
            ])
            #expect(worker.status != 0)
            #expect(worker.stderr.contains("chmod 600 \(folder)/client.secret"), "\(worker.stderr)")
        }
    }
}
