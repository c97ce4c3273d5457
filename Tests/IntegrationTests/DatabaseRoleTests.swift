import DriftlessTestSupport
import Foundation
import PostgresClient
import Store
import Testing

/// Least privilege in PostgreSQL: workers write through the driftless_worker role, which can
/// do nothing else; the embedded server wants a password; URLs keep their secrets out of logs.
extension Integration {
    @Suite("DatabaseRoles")
    struct DatabaseRoleTests {
        /// `sql` as the worker role must fail; returns the error text.
        func refused(
            _ connection: PostgresConnection,
            _ sql: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) -> String {
            do {
                try connection.execute(sql)
                Issue.record("the worker role was allowed: \(sql)", sourceLocation: sourceLocation)
                return ""
            } catch {
                _ = try? connection.execute("ROLLBACK")
                return "\(error)"
            }
        }

        @Test(
            "the worker role indexes two indexes, and cannot DROP, CREATE, COPY TO PROGRAM or write another index's vectors"
        )
        func workerRole() throws {
            let cluster = try TestCluster()
            let coordinator = try cluster.startCoordinator()
            let worker = try cluster.startWorker()
            let (first, firstDocuments) = try TestResources.scifactSubset(8)
            let (second, secondDocuments) = try TestResources.scifactSubset(8, from: 8)
            for (corpus, index) in [(first, "role-a"), (second, "role-b")] {
                let job = try #require(try cluster.submitDetached(corpus, index: index, shardSize: 4))
                #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            }
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "role-a", ids: check.ids(firstDocuments))
            try check.exactlyOnce(index: "role-b", ids: check.ids(secondDocuments))
            #expect(!worker.log.contains("can change the schema"), "\(worker.log)")
            // Queries need no more than the read-only role.
            let title = try #require(firstDocuments[0]["title"] as? String)
            let query = try TestResources.run(
                TestResources.coordExecutable,
                [
                    "query", "--index", "role-a", "-k", "3", "--json", title, "--database", cluster.database.readerURL,
                    "--models", cluster.modelsFolder.path,
                ]
            )
            #expect(query.status == 0, "\(query.stderr)")
            #expect(query.stdout.contains(firstDocuments[0]["_id"] as! String), "\(query.stdout)")
            #expect(coordinator.isRunning)

            let owner = try cluster.database.connect()
            let role = try PostgresConnection(url: cluster.database.workerURL)
            #expect(try role.execute("SELECT current_user").scalar == "driftless_worker")
            #expect(refused(role, "DROP TABLE documents").contains("must be owner"))
            #expect(refused(role, "CREATE TABLE intruder (x int)").contains("permission denied"))
            #expect(refused(role, "COPY (SELECT 1) TO PROGRAM 'id'").contains("permission denied"))
            #expect(refused(role, "DELETE FROM documents").contains("permission denied"))
            #expect(refused(role, "UPDATE models SET weights_hash = 'x'").contains("permission denied"))

            // A lease on a shard of index a (made by the owner, as the coordinator would).
            let tableA = try check.vectorTable("role-a")
            let tableB = try check.vectorTable("role-b")
            let jobA = try #require(
                try owner.execute("SELECT j.id FROM jobs j JOIN indexes i ON i.id = j.index_id WHERE i.name = 'role-a'")
                    .scalar
            )
            let shard = try #require(
                try owner.execute(
                    "INSERT INTO shards (job_id, first_seq, last_seq, doc_count, state) VALUES ($1, 0, 0, 1, 'leased') RETURNING id",
                    [jobA]
                ).scalar
            )
            try owner.execute("INSERT INTO shard_leases (shard_id, worker) VALUES ($1, 'test')", [shard])
            let vector = "[" + Array(repeating: "0.05", count: 384).joined(separator: ",") + "]"
            // With that lease, index a's vectors may be written; index b's may not, nor without a lease.
            try role.execute(
                "INSERT INTO \(tableA) (doc_id, embedding, content_hash, job_id, shard_id) VALUES ('x', '\(vector)', 'h', \(jobA), \(shard))"
            )
            #expect(
                refused(
                    role,
                    "INSERT INTO \(tableB) (doc_id, embedding, content_hash, job_id, shard_id) VALUES ('x', '\(vector)', 'h', \(jobA), \(shard))"
                )
                .contains("row-level security")
            )
            #expect(
                refused(role, "UPDATE \(tableB) SET embedding = '\(vector)', shard_id = \(shard)").contains(
                    "row-level security"
                )
            )
            #expect(
                refused(
                    role,
                    "INSERT INTO \(tableA) (doc_id, embedding, content_hash, job_id, shard_id) VALUES ('y', '\(vector)', 'h', \(jobA), 999999)"
                )
                .contains("row-level security")
            )
            // Shards: only a leased one can be marked, and only done.
            #expect(try role.execute("UPDATE shards SET state = 'pending' WHERE id <> $1", [shard]).affected == 0)
            #expect(
                refused(role, "UPDATE shards SET state = 'pending' WHERE id = \(shard)").contains("row-level security")
            )
            #expect(try role.execute("DELETE FROM shard_leases").affected == 0, "leases of a shard not done stay")
        }

        @Test(
            "the worker role reads the staged documents of a shard its lease holds, and of no other; not job_documents"
        )
        func workerReadsLeasedShard() throws {
            let cluster = try TestCluster()
            let coordinator = try cluster.startCoordinator()
            let (corpus, _) = try TestResources.scifactSubset(12)
            // No worker: the job's twelve documents stay staged in three pending shards.
            let job = try #require(try cluster.submitDetached(corpus, index: "leased-read", shardSize: 4))
            coordinator.signal(SIGKILL)
            _ = coordinator.wait(seconds: 10)

            let owner = try cluster.database.connect()
            let role = try PostgresConnection(url: cluster.database.workerURL)
            let shards = try owner.execute(
                "SELECT id, first_seq, last_seq, doc_count FROM shards WHERE job_id = $1 ORDER BY first_seq",
                [String(job)]
            )
            #expect(shards.count == 3)
            let (shard, firstSeq, lastSeq) = (
                try #require(Int64(shards.value(1, "id")!)), Int(shards.value(1, "first_seq")!)!,
                Int(shards.value(1, "last_seq")!)!
            )
            let token = try #require(
                try owner.execute(
                    "INSERT INTO shard_leases (shard_id, worker) VALUES ($1, 'test') RETURNING token",
                    [
                        String(shard)
                    ]
                ).scalar.flatMap { Int64($0) }
            )
            #expect(refused(role, "SELECT count(*) FROM job_documents").contains("permission denied"))

            // The lease's shard: its four documents, in order, with what they were staged with.
            let read = LeasedShard(shard: shard, lease: token, documentCount: 4)
            guard case .documents(let documents) = try read.read(from: role) else {
                Issue.record("the leased shard was not read")
                return
            }
            #expect(documents.map(\.seq) == Array(firstSeq...lastSeq))
            let staged = try owner.execute(
                "SELECT doc_id, body FROM job_documents WHERE job_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
                [String(job), String(firstSeq), String(lastSeq)]
            )
            #expect(documents.map(\.id) == (0..<staged.count).map { staged.value($0, "doc_id")! })
            #expect(documents.map(\.text) == (0..<staged.count).map { staged.value($0, "body")! })
            // Another token reads nothing: only the shard a lease holds is readable.
            #expect(
                try role.execute("SELECT count(*) FROM driftless_leased_documents($1)", [String(token + 1)]).scalar
                    == "0"
            )
            // A count other than the shard's is an error, not a short shard.
            #expect(throws: StoreError.self) {
                _ = try LeasedShard(shard: shard, lease: token, documentCount: 5).read(from: role)
            }
            // The read is a range scan of job_documents' primary key, whatever join PostgreSQL
            // would pick: with 10,000,000 staged rows it hashed the shard's range against a
            // parallel sequential scan of the whole table, 6 s a shard (migration 0018). Joins
            // other than a nested loop forbidden here, as that plan was:
            let hashing = try PostgresConnection(
                url: cluster.database.url,
                settings: [("enable_nestloop", "off"), ("enable_mergejoin", "off")]
            )
            func scans() throws -> (sequential: Int, index: Int) {
                try hashing.execute("SELECT pg_stat_force_next_flush()")
                let counts = try owner.execute(
                    "SELECT seq_scan, idx_scan FROM pg_stat_user_tables WHERE relname = 'job_documents'"
                )
                return (counts.int(0, "seq_scan") ?? -1, counts.int(0, "idx_scan") ?? -1)
            }
            let before = try scans()
            for _ in 0..<6 {
                guard case .documents(let again) = try read.read(from: hashing), again.count == 4 else {
                    Issue.record("the leased shard was not read again")
                    return
                }
            }
            let after = try scans()
            #expect(after.sequential == before.sequential, "job_documents scanned whole: \(before) -> \(after)")
            #expect(after.index >= before.index + 6, "\(before) -> \(after)")
            // Once the lease is gone, nothing is read and the worker is told it is fenced.
            try owner.execute("DELETE FROM shard_leases WHERE token = $1", [String(token)])
            guard case .fenced = try read.read(from: role) else {
                Issue.record("a revoked lease still read its shard")
                return
            }
        }

        @Test("a worker given the owner's role still works, and warns")
        func ownerRoleWarns() throws {
            let cluster = try TestCluster()
            cluster.workerDatabaseURL = cluster.database.url
            try cluster.startCoordinator()
            let worker = try cluster.startWorker()
            #expect(worker.waitForLog("can change the schema", seconds: 10), "\(worker.log)")
            let (corpus, documents) = try TestResources.scifactSubset(4)
            let job = try #require(try cluster.submitDetached(corpus, index: "owner", shardSize: 4))
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "owner", ids: check.ids(documents))
        }

        @Test("the embedded server refuses a connection without the password")
        func passwordRequired() throws {
            let database = try TestDatabase()
            #expect {
                try PostgresConnection(url: database.url + "?passfile=/nonexistent")
            } throws: { error in
                error is PostgresError && "\(error)".contains("password")
            }
            #expect(try PostgresConnection(url: database.url).execute("SELECT 1").scalar == "1")
        }

        @Test(
            "--database-file keeps the URL off the command line; a password in --database is warned about; secrets are masked"
        )
        func urlSources() throws {
            let database = try TestDatabase()
            let file = try TestResources.temporaryDirectory().appendingPathComponent("database-url")
            try Data((database.url + "\n").utf8).write(to: file)
            let fromFile = try TestResources.run(
                TestResources.coordExecutable,
                ["migrate", "--database-file", file.path]
            )
            #expect(fromFile.status == 0, "\(fromFile.stderr)")
            #expect(!fromFile.stderr.contains("warning: the database password"))
            let password = try String(
                contentsOfFile: TestResources.repository.path + "/var/secrets/driftless.password",
                encoding: .utf8
            )
            let withPassword = database.url.replacingOccurrences(of: "driftless@", with: "driftless:\(password)@")
            let onCommandLine = try TestResources.run(
                TestResources.coordExecutable,
                ["migrate", "--database", withPassword]
            )
            #expect(onCommandLine.status == 0, "\(onCommandLine.stderr)")
            #expect(
                onCommandLine.stderr.contains("warning: the database password is on the command line"),
                "\(onCommandLine.stderr)"
            )
            #expect(!onCommandLine.stderr.contains(password))
            let missing = try TestResources.run(
                TestResources.coordExecutable,
                ["migrate", "--database-file", "/nonexistent/url"]
            )
            #expect(
                missing.status == 64 && missing.stderr.contains("cannot read the database URL from /nonexistent/url"),
                "\(missing.stderr)"
            )

            let masked = PostgresURL.redacted(
                "postgresql://u:s3cret@h:5432/db?sslpassword=k3y&passfile=/home/u/.pgpass&sslmode=require&password=p4ss"
            )
            for secret in ["s3cret", "k3y", "/home/u/.pgpass", "p4ss"] {
                #expect(!masked.contains(secret), "\(masked)")
            }
            #expect(masked.contains("sslmode=require"))
        }
    }
}
