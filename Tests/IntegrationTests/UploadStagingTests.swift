import Corpus
import DriftlessTestSupport
import Foundation
import Store
import Testing
import Wire

/// Uploaded chunks are written off the coordinator's loop: while one waits on the database (a
/// checkpoint at millions of staged rows), the coordinator answers everyone else, a client's
/// replies keep the order of its requests, and an upload given up meanwhile leaves nothing.
extension Integration {
    @Suite("UploadStaging")
    struct UploadStagingTests {
        /// Staging a document whose id starts with `slow` sleeps `seconds` in the database.
        func slowStaging(_ cluster: TestCluster, seconds: Double) throws {
            let db = try cluster.database.connect()
            try db.execute(
                """
                CREATE FUNCTION test_slow_staging() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_sleep(\(seconds)); RETURN NEW; END $$
                """
            )
            try db.execute(
                """
                CREATE TRIGGER test_slow_staging BEFORE INSERT ON job_documents FOR EACH ROW
                WHEN (NEW.doc_id LIKE 'slow%') EXECUTE FUNCTION test_slow_staging()
                """
            )
        }

        /// Sends a chunk of `ids` (a `slow…` one among them) and waits until its staging sleeps.
        func sendAsleep(
            _ ids: [String],
            _ owner: CoordinatorClient,
            _ job: Int64,
            _ upload: String,
            _ cluster: TestCluster
        ) throws {
            try owner.send(.documents(job: job, upload: upload, documents: documents(ids)))
            #expect(
                try eventually(20, poll: 0.05) { try stagingAsleep(cluster) },
                "the chunk never reached the trigger"
            )
        }

        /// Whether a staging statement is asleep in the trigger now.
        func stagingAsleep(_ cluster: TestCluster) throws -> Bool {
            try cluster.database.count(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%job_documents%'"
            ) > 0
        }

        func documents(_ ids: [String], firstLine: Int = 1) -> [Document] {
            ids.enumerated().map { n, id in
                Document(line: firstLine + n, id: id, title: "", text: "the text of \(id)")
            }
        }

        /// A coordinator whose staging of `slow…` ids sleeps `seconds`, and an upload opened on it.
        func slowUpload(
            _ index: String,
            seconds: Double
        ) throws -> (cluster: TestCluster, owner: CoordinatorClient, job: Int64, upload: String)? {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            try slowStaging(cluster, seconds: seconds)
            let owner = try CoordinatorClient(endpoint: cluster.clientEndpoint)
            guard
                case .accepted(let job, let upload) = try owner.request(
                    .submit(.init(index: index, model: "all-MiniLM-L6-v2", shardSize: 4, source: "test"))
                )
            else {
                Issue.record("not accepted")
                return nil
            }
            return (cluster, owner, job, upload)
        }

        @Test(
            "while a chunk waits on the database, the coordinator answers another client's status; the uploader's replies keep its order"
        )
        func answersWhileStaging() throws {
            guard let (cluster, owner, job, upload) = try slowUpload("staging-a", seconds: 6) else { return }
            try owner.send(.documents(job: job, upload: upload, documents: documents(["slow-1", "a-2"])))
            try owner.send(.documents(job: job, upload: upload, documents: documents(["a-3"], firstLine: 3)))
            // The uploader's own status request comes after its chunks: answered after them.
            try owner.send(.status(job: job))
            #expect(
                try eventually(20, poll: 0.05) { try stagingAsleep(cluster) },
                "the chunk never reached the trigger"
            )

            let other = try CoordinatorClient(endpoint: cluster.clientEndpoint)
            let asked = ContinuousClock.now
            let answer = try other.request(.status(job: nil))
            let took = (ContinuousClock.now - asked).components
            let seconds = Double(took.seconds) + Double(took.attoseconds) / 1e18
            guard case .status(let report) = answer else {
                Issue.record("expected a status report, got \(answer)")
                return
            }
            #expect(report.jobs.contains { $0.id == job && $0.state == .receiving })
            // Answered while the chunk was still being written (the trigger sleeps 6 s).
            #expect(try stagingAsleep(cluster), "the status answer waited for the chunk (\(seconds) s)")
            #expect(seconds < 3, "the status answer took \(seconds) s")

            #expect(try owner.receive() == .ack(job: job, received: 2))
            #expect(try owner.receive() == .ack(job: job, received: 3))
            guard case .status(let own) = try owner.receive(), let mine = own.jobs.first else {
                Issue.record("the uploader's status came out of order")
                return
            }
            #expect(mine.id == job)
            guard case .sealed(let sealed) = try owner.request(.seal(job: job, upload: upload, documents: 3)) else {
                Issue.record("not sealed")
                return
            }
            #expect(sealed.toEmbed == 3)
            #expect(
                try cluster.database.count(
                    "SELECT count(*) FROM job_documents WHERE job_id = $1 AND doc_id IN ('slow-1', 'a-2', 'a-3')",
                    [String(job)]
                ) == 3
            )
        }

        @Test(
            "a chunk that fails while the next is queued: the job fails once both are through, the next is not written, nothing kept"
        )
        func failedWhileQueued() throws {
            guard let (cluster, owner, job, upload) = try slowUpload("staging-b", seconds: 2) else { return }
            try sendAsleep(["slow-1", "b-2", "b-2"], owner, job, upload, cluster)
            try owner.send(.documents(job: job, upload: upload, documents: documents(["b-4"], firstLine: 4)))
            guard case .failure(let failed) = try owner.receive() else {
                Issue.record("a chunk with a duplicate id was acknowledged")
                return
            }
            #expect(failed.contains("job \(job) failed: staging documents (lines 1–3) failed"), "\(failed)")
            #expect(failed.contains(": duplicate id "), "\(failed)")
            guard case .failure(let skipped) = try owner.receive() else {
                Issue.record("the chunk behind a failed one was acknowledged")
                return
            }
            #expect(skipped.contains("(lines 4–4) not staged"), "\(skipped)")
            try expectGone(cluster, job, error: "duplicate id")
            guard case .failure = try owner.request(.seal(job: job, upload: upload, documents: 1)) else {
                Issue.record("a failed upload was sealed")
                return
            }
        }

        @Test(
            "an upload given up behind its chunks (one refused among them): they are answered first, in order, then the job fails and nothing is kept"
        )
        func abandonedBehindChunks() throws {
            guard let (cluster, owner, job, upload) = try slowUpload("staging-c", seconds: 2) else { return }
            try sendAsleep(["slow-1", "c-2"], owner, job, upload, cluster)
            // A chunk refused at once (a wrong token) is answered in its turn too.
            try owner.send(.documents(job: job, upload: "0000", documents: documents(["c-x"], firstLine: 3)))
            try owner.send(.documents(job: job, upload: upload, documents: documents(["c-3"], firstLine: 3)))
            try owner.send(.abandon(job: job, upload: upload))
            #expect(try owner.receive() == .ack(job: job, received: 2))
            #expect(
                try owner.receive()
                    == .failure(
                        message: "job \(job) was opened by another client: only it may add documents to it or seal it"
                    )
            )
            #expect(try owner.receive() == .ack(job: job, received: 3))
            #expect(try owner.receive() == .ack(job: job, received: 0))
            try expectGone(cluster, job, error: "gave the upload up")
        }

        @Test(
            "another client cancels an upload while its chunk waits on the database: cancelled at once, the chunk rolled back"
        )
        func cancelledWhileStaging() throws {
            guard let (cluster, owner, job, upload) = try slowUpload("staging-d", seconds: 4) else { return }
            try sendAsleep(["slow-1", "d-2"], owner, job, upload, cluster)
            let admin = try CoordinatorClient(endpoint: cluster.clientEndpoint)
            let cancelled = try admin.request(.cancel(job: job))
            #expect(cancelled == .ack(job: job, received: 0), "\(cancelled)")
            #expect(try stagingAsleep(cluster), "the cancel waited for the chunk")
            guard case .failure(let failed) = try owner.receive() else {
                Issue.record("a chunk of a cancelled upload was acknowledged")
                return
            }
            #expect(failed.contains("not receiving documents (state cancelled)"), "\(failed)")
            #expect(
                try eventually(30, poll: 0.1) {
                    try cluster.database.count("SELECT count(*) FROM job_documents WHERE job_id = $1", [String(job)])
                        == 0
                }
            )
        }

        @Test(
            "the stager's connection closed between chunks (a restart, an idle timeout): the next chunk is staged on a new one"
        )
        func stagerConnectionLost() throws {
            guard let (cluster, owner, job, upload) = try slowUpload("staging-e", seconds: 0) else { return }
            #expect(
                try owner.request(.documents(job: job, upload: upload, documents: documents(["e-1"])))
                    == .ack(job: job, received: 1)
            )
            let terminated = try cluster.database.count(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'driftless upload stager' AND datname = current_database()) AS t"
            )
            #expect(terminated == 1)
            #expect(
                try owner.request(.documents(job: job, upload: upload, documents: documents(["e-2"], firstLine: 2)))
                    == .ack(job: job, received: 2)
            )
            guard case .sealed(let sealed) = try owner.request(.seal(job: job, upload: upload, documents: 2)) else {
                Issue.record("not sealed")
                return
            }
            #expect(sealed.toEmbed == 2)
        }

        @Test(
            "chunks are staged through one table for the stager's connection (no catalog rows written per chunk), and a chunk waits for a lock held over 0.5 s"
        )
        func stagingTableAndLockWait() throws {
            guard let (cluster, owner, job, upload) = try slowUpload("staging-f", seconds: 0) else { return }
            let tables = "SELECT oid::text FROM pg_class WHERE relname = 'staging' AND relpersistence = 't'"
            #expect(
                try owner.request(.documents(job: job, upload: upload, documents: documents(["f-1"])))
                    == .ack(job: job, received: 1)
            )
            let first = try cluster.database.connect().execute(tables).rows.compactMap { $0[0] }
            #expect(first.count == 1, "temporary staging tables after a chunk: \(first)")
            // The job's row held by another transaction for 1.5 s: the chunk's commit waits for it.
            let holder = try cluster.database.connect()
            try holder.execute("BEGIN")
            try holder.execute("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", [String(job)])
            try owner.send(.documents(job: job, upload: upload, documents: documents(["f-2"], firstLine: 2)))
            Thread.sleep(forTimeInterval: 1.5)
            try holder.execute("COMMIT")
            #expect(try owner.receive() == .ack(job: job, received: 2))
            let second = try cluster.database.connect().execute(tables).rows.compactMap { $0[0] }
            #expect(second == first, "the staging table was made again: \(first) then \(second)")
        }

        /// A job of 3,000 documents being sealed in 3 steps of 1,000, each step's shards written 3 s
        /// slowly; returned once the first step sleeps (``cutting(_:)``).
        func slowSeal(_ index: String) throws -> (cluster: TestCluster, job: Int64)? {
            let cluster = try TestCluster()
            try cluster.startCoordinator(["--seal-batch", "1000"])
            let db = try cluster.database.connect()
            try db.execute(
                "CREATE FUNCTION test_slow_cut() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$"
            )
            try db.execute(
                "CREATE TRIGGER test_slow_cut BEFORE INSERT ON shards FOR EACH STATEMENT EXECUTE FUNCTION test_slow_cut()"
            )
            let owner = try CoordinatorClient(endpoint: cluster.clientEndpoint)
            guard
                case .accepted(let job, let upload) = try owner.request(
                    .submit(.init(index: index, model: "all-MiniLM-L6-v2", shardSize: 4, source: "test"))
                )
            else {
                Issue.record("not accepted")
                return nil
            }
            for chunk in 0..<3 {
                let ids = (0..<1000).map { "s-\(chunk * 1000 + $0)" }
                #expect(
                    try owner.request(
                        .documents(job: job, upload: upload, documents: documents(ids, firstLine: chunk * 1000 + 1))
                    )
                        == .ack(job: job, received: (chunk + 1) * 1000)
                )
            }
            #expect(try owner.request(.seal(job: job, upload: upload, documents: 3000)) == .sealing(job: job))
            #expect(try eventually(20, poll: 0.05) { try cutting(cluster) }, "no seal step reached the trigger")
            return (cluster, job)
        }

        /// Whether a seal step is asleep in the trigger on `shards` now.
        func cutting(_ cluster: TestCluster) throws -> Bool {
            try cluster.database.count(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%INSERT INTO shards%'"
            ) > 0
        }

        @Test(
            "while a big job is sealed in steps, the coordinator answers status; a step done already, tried again, cuts no shards twice"
        )
        func answersWhileSealing() throws {
            guard let (cluster, job) = try slowSeal("sealing") else { return }
            let db = try cluster.database.connect()

            let other = try CoordinatorClient(endpoint: cluster.clientEndpoint)
            let asked = ContinuousClock.now
            let answer = try other.request(.status(job: job))
            let took = (ContinuousClock.now - asked).components
            let seconds = Double(took.seconds) + Double(took.attoseconds) / 1e18
            guard case .status(let report) = answer else {
                Issue.record("expected a status report, got \(answer)")
                return
            }
            #expect(report.jobs.first?.id == job)
            // Answered while the step was still writing its shards (the trigger sleeps 3 s).
            #expect(try cutting(cluster), "the status answer waited for the seal step (\(seconds) s)")
            #expect(seconds < 1.5, "the status answer took \(seconds) s")

            // The first step's commit is in; its answer lost, it would be tried again.
            let firstStep = "SELECT count(*) FROM shards WHERE job_id = $1 AND first_seq BETWEEN 0 AND 999"
            #expect(try eventually(20, poll: 0.05) { try cluster.database.count(firstStep, [String(job)]) == 250 })
            let index = try #require(try Catalog(db).index(named: "sealing"))
            let again = try JobStore(db).sealStep(job: job, index: index, from: 0, through: 999, shardSize: 4)
            #expect(again == .init(unchanged: 0, shards: 0), "\(again)")

            #expect(
                try eventually(30, poll: 0.1) {
                    try cluster.database.scalar("SELECT state FROM jobs WHERE id = $1", [String(job)]) == "running"
                },
                "\(cluster.logs)"
            )
            #expect(try cluster.database.count(firstStep, [String(job)]) == 250, "the first step's shards cut twice")
            #expect(try cluster.database.count("SELECT count(*) FROM shards WHERE job_id = $1", [String(job)]) == 750)
        }

        @Test("a big job cancelled while a seal step waits on the database: cancelled at once, no step after it")
        func cancelledWhileSealing() throws {
            guard let (cluster, job) = try slowSeal("sealing-cancel") else { return }
            let admin = try CoordinatorClient(endpoint: cluster.clientEndpoint)
            let cancelled = try admin.request(.cancel(job: job))
            #expect(cancelled == .ack(job: job, received: 0), "\(cancelled)")
            #expect(try cutting(cluster), "the cancel waited for the seal step")
            #expect(
                cluster.coordinator!.waitForLog("sealing stopped", seconds: 20),
                "the step after the cancel\n\(cluster.logs)"
            )
            #expect(try cluster.database.scalar("SELECT state FROM jobs WHERE id = $1", [String(job)]) == "cancelled")
            #expect(try cluster.database.count("SELECT count(*) FROM shards WHERE job_id = $1", [String(job)]) == 0)
        }

        @Test("while a failed job's staged documents are deleted, the coordinator answers status")
        func answersWhileCleaningUp() throws {
            guard let (cluster, owner, job, upload) = try slowUpload("cleanup-a", seconds: 0) else { return }
            let db = try cluster.database.connect()
            try db.execute(
                "CREATE FUNCTION test_slow_drop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$"
            )
            try db.execute(
                "CREATE TRIGGER test_slow_drop BEFORE DELETE ON job_documents FOR EACH STATEMENT EXECUTE FUNCTION test_slow_drop()"
            )
            #expect(
                try owner.request(.documents(job: job, upload: upload, documents: documents(["g-1", "g-2"])))
                    == .ack(job: job, received: 2)
            )
            #expect(try owner.request(.abandon(job: job, upload: upload)) == .ack(job: job, received: 0))
            func dropping() throws -> Bool {
                try cluster.database.count(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%DELETE FROM job_documents%'"
                ) > 0
            }
            #expect(try eventually(20, poll: 0.05) { try dropping() }, "the staged documents were never deleted")
            let other = try CoordinatorClient(endpoint: cluster.clientEndpoint)
            let asked = ContinuousClock.now
            let answer = try other.request(.status(job: job))
            let took = (ContinuousClock.now - asked).components
            let seconds = Double(took.seconds) + Double(took.attoseconds) / 1e18
            guard case .status = answer else {
                Issue.record("expected a status report, got \(answer)")
                return
            }
            #expect(try dropping(), "the status answer waited for the deletion (\(seconds) s)")
            #expect(seconds < 1.5, "the status answer took \(seconds) s")
            try expectGone(cluster, job, error: "gave the upload up")
        }

        /// `job` failed with `error` in its message, and none of its staged documents are left.
        func expectGone(_ cluster: TestCluster, _ job: Int64, error: String) throws {
            let id = [String(job)]
            let gone = try eventually(30, poll: 0.1) {
                try cluster.database.scalar("SELECT state FROM jobs WHERE id = $1", id) == "failed"
                    && cluster.database.count("SELECT count(*) FROM job_documents WHERE job_id = $1", id) == 0
            }
            let state = try cluster.database.scalar(
                "SELECT state || ': ' || coalesce(error, '') FROM jobs WHERE id = $1",
                id
            )
            #expect(gone, "job \(job) \(state ?? "?"); staged rows left")
            #expect(state?.contains(error) == true, "job \(job) \(state ?? "?")")
        }
    }
}
