import DriftlessTestSupport
import Foundation
import Testing

/// Stopping cleanly (issue 12, part 5): a signal stops a daemon or a long command within a bounded
/// time even while PostgreSQL makes it wait, cancels the server-side work it started, and leaves
/// nothing behind.
extension Integration {
    @Suite("Stopping cleanly")
    struct StopTests {
        /// Backends of this test's database running a concurrent index build (waiting or working).
        func builds(_ database: TestDatabase) throws -> Int {
            try database.count(
                """
                SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                    AND pid <> pg_backend_pid() AND query ILIKE '%CREATE INDEX CONCURRENTLY%'
                """
            )
        }

        func invalidIndexes(_ database: TestDatabase, table: String) throws -> Int {
            try database.count(
                "SELECT count(*) FROM pg_index WHERE indrelid = to_regclass($1) AND NOT indisvalid",
                [table]
            )
        }

        @Test(
            "SIGTERM while the coordinator's HNSW build waits on a lock: the build is cancelled in PostgreSQL, nothing half-built stays, the next start builds it"
        )
        func coordinatorCancelsBuild() throws {
            let cluster = try TestCluster()
            let coordinator = try cluster.startCoordinator()
            try cluster.startWorker()
            let (first, firstDocuments) = try TestResources.scifactSubset(8)
            let warmup = try #require(try cluster.submitDetached(first, index: "stopbuild"))
            #expect(try cluster.waitForJob(warmup) == "done", "\(cluster.logs)")
            let table = try IndexAssertions(database: cluster.database).vectorTable("stopbuild")

            // The next job's build must start from nothing, and wait: commits go on (ROW EXCLUSIVE),
            // a concurrent index build (SHARE UPDATE EXCLUSIVE) cannot start.
            let owner = try cluster.database.connect()
            try owner.execute("DROP INDEX \(table)_hnsw")
            let locker = try cluster.database.connect()
            try locker.execute("BEGIN")
            try locker.execute("LOCK TABLE \(table) IN SHARE UPDATE EXCLUSIVE MODE")
            let (second, secondDocuments) = try TestResources.scifactSubset(8, from: 8)
            let job = try #require(try cluster.submitDetached(second, index: "stopbuild"))
            #expect(try eventually(60) { try builds(cluster.database) == 1 }, "\(cluster.logs)")

            coordinator.signal(SIGTERM)
            #expect(coordinator.wait(seconds: 20) == 0, "\(coordinator.log)")
            #expect(
                try eventually(5) { try builds(cluster.database) == 0 },
                "the build's backend outlived the coordinator:\n\(coordinator.log)"
            )
            #expect(try invalidIndexes(cluster.database, table: table) == 0)
            #expect(coordinator.log.contains("HNSW build cancelled"), "\(coordinator.log)")

            try locker.execute("COMMIT")
            try cluster.startCoordinator()
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            #expect(
                try cluster.database.count(
                    "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass($1) AND indisvalid",
                    ["\(table)_hnsw"]
                ) == 1
            )
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "stopbuild", ids: check.ids(firstDocuments + secondDocuments))
        }

        @Test(
            "Ctrl-C during `coord index build --rebuild` waiting on a lock: exit 130, the build cancelled in PostgreSQL, the old index intact"
        )
        func indexBuildInterrupted() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, _) = try TestResources.scifactSubset(8)
            let job = try #require(try cluster.submitDetached(corpus, index: "rebuild"))
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            let table = try IndexAssertions(database: cluster.database).vectorTable("rebuild")

            let locker = try cluster.database.connect()
            try locker.execute("BEGIN")
            try locker.execute("LOCK TABLE \(table) IN SHARE UPDATE EXCLUSIVE MODE")
            let build = try ManagedProcess(
                name: "index-build",
                executable: TestResources.coordExecutable,
                arguments: ["index", "build", "--index", "rebuild", "--m", "8", "--database", cluster.database.url]
            )
            #expect(try eventually(30) { try builds(cluster.database) == 1 }, "\(build.log)")
            build.signal(SIGINT)
            let status = build.wait(seconds: 15)
            if status == nil { build.kill9() }
            #expect(status == 130, "\(build.log)")
            #expect(build.log.contains("interrupted"), "\(build.log)")
            #expect(
                try eventually(5) { try builds(cluster.database) == 0 },
                "the build's backend outlived the command"
            )
            try locker.execute("COMMIT")
            #expect(try invalidIndexes(cluster.database, table: table) == 0)
            #expect(
                try cluster.database.count("SELECT count(*) FROM pg_class WHERE relname = $1", ["\(table)_hnsw_new"])
                    == 0
            )
            #expect(
                try cluster.database.count(
                    "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass($1) AND indisvalid",
                    ["\(table)_hnsw"]
                ) == 1,
                "the old HNSW index must still serve"
            )
            #expect(try cluster.database.scalar("SELECT hnsw_m FROM indexes WHERE name = 'rebuild'") == "16")
        }

        @Test(
            "SIGTERM while a worker's commit retries against an absent database: it gives the shard back within --stop-seconds; another worker finishes the job, exactly once"
        )
        func workerStopsDuringOutage() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            let worker = try cluster.startWorker(extra: ["--commit-retry-seconds", "120", "--stop-seconds", "2"])
            let (corpus, documents) = try TestResources.scifactSubset(32)
            let job = try #require(try cluster.submitDetached(corpus, index: "stopworker", shardSize: 4))
            #expect(
                try eventually(60) {
                    try cluster.database.count("SELECT count(*) FROM shards WHERE state = 'done'") >= 1
                }
            )
            try cluster.database.cutOffWorkers()
            defer { try? cluster.database.restoreWorkers() }
            #expect(worker.waitForLog("retrying the commit", seconds: 30), "\(worker.log)")
            let signalled = Date()
            worker.signal(SIGTERM)
            let status = worker.wait(seconds: 30)
            let took = Date().timeIntervalSince(signalled)
            if status == nil { worker.kill9() }
            #expect(status == 0, "\(worker.log)")
            #expect(took < 10, "the worker took \(took) s to stop:\n\(worker.log)")
            #expect(worker.log.contains("shard given back"), "\(worker.log)")

            try cluster.database.restoreWorkers()
            try cluster.startWorker()
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            #expect(try cluster.database.count("SELECT count(*) FROM rejected_documents") == 0)
            #expect(try cluster.database.count("SELECT count(*) FROM shards WHERE state IN ('split', 'failed')") == 0)
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "stopworker", ids: check.ids(documents))
        }

        @Test(
            "Ctrl-C while `coord reindex` waits for its job: exit 130, the job keeps running"
        )
        func reindexInterrupted() throws {
            let successor = "all-MiniLM-L6-v2-scifact-ft"
            let cluster = try TestCluster(models: [
                "all-MiniLM-L6-v2": TestResources.minilm, successor: TestResources.model(successor),
            ])
            try cluster.startCoordinator()
            let worker = try cluster.startWorker()
            let (corpus, _) = try TestResources.scifactSubset(16)
            let job = try #require(try cluster.submitDetached(corpus, index: "reidx"))
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            // No worker left: the re-index job waits, and so does the command.
            worker.signal(SIGTERM)
            #expect(worker.wait(seconds: 30) == 0)

            let reindex = try ManagedProcess(
                name: "reindex",
                executable: TestResources.coordExecutable,
                arguments: [
                    "reindex", "--index", "reidx", "--to", successor, "--database", cluster.database.url, "--models",
                    cluster.modelsFolder.path, "--coordinator", cluster.clientEndpoint,
                ]
            )
            #expect(reindex.waitForLog("documents to embed into", seconds: 60), "\(reindex.log)")
            reindex.signal(SIGINT)
            let status = reindex.wait(seconds: 15)
            if status == nil { reindex.kill9() }
            #expect(status == 130, "\(reindex.log)")
            #expect(reindex.log.contains("keeps running"), "\(reindex.log)")
            #expect(try cluster.database.count("SELECT count(*) FROM jobs WHERE state = 'running'") == 1)
        }
    }
}
