import DriftlessTestSupport
import Foundation
import Testing

extension Integration {
    @Suite("Cancelling a job")
    struct CancelTests {
        @Test("coord cancel: leases revoked, staged rows gone, committed shards consistent, nothing written after")
        func cancelRunningJob() throws {
            let cluster = try TestCluster(models: ["all-MiniLM-L6-v2": TestResources.minilm])
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(150)
            let job = try #require(try cluster.submitDetached(corpus, index: "c", shardSize: 8))
            let database = cluster.database
            // Some shards committed, most still open.
            #expect(
                try eventually(60, poll: 0.1) {
                    try database.count(
                        "SELECT count(*) FROM shards WHERE job_id = $1 AND state = 'done'",
                        [String(job)]
                    )
                        >= 2
                }
            )
            let cancel = try cluster.coord(["cancel", "\(job)"])
            #expect(
                cancel.status == 0 && cancel.stdout.contains("job \(job) cancelled"),
                "\(cancel.stdout)\(cancel.stderr)"
            )
            #expect(try database.scalar("SELECT state FROM jobs WHERE id = $1", [String(job)]) == "cancelled")
            #expect(
                try database.count(
                    "SELECT count(*) FROM shards WHERE job_id = $1 AND state IN ('pending', 'leased')",
                    [String(job)]
                ) == 0
            )
            // Its staged rows go in steps after the cancel (a big job's would hold the coordinator).
            #expect(
                try eventually(10) {
                    try database.count("SELECT count(*) FROM job_documents WHERE job_id = $1", [String(job)]) == 0
                }
            )
            // What was committed is whole: exactly the documents of the done shards, each with its vector.
            let table = try IndexAssertions(database: database).vectorTable("c")
            let committed = try database.count(
                "SELECT coalesce(sum(doc_count), 0) FROM shards WHERE job_id = $1 AND state = 'done'",
                [String(job)]
            )
            Thread.sleep(forTimeInterval: 3)  // a commit in flight at the cancel is fenced, not written
            let vectors = try database.count("SELECT count(*) FROM \(table)")
            #expect(vectors == committed && vectors < documents.count, "\(vectors) vectors, \(committed) committed")
            #expect(
                try database.count(
                    "SELECT count(*) FROM documents d JOIN indexes i ON i.collection_id = d.collection_id WHERE i.name = 'c'"
                ) == vectors
            )
            let status = try cluster.coord(["status"])
            #expect(status.stdout.contains("\(job)  cancelled"), "\(status.stdout)")
            // Refusals name the state; the corpus submitted again indexes the rest.
            let again = try cluster.coord(["cancel", "\(job)"])
            #expect(
                again.status == 1 && again.stderr.contains("is cancelled: there is nothing to cancel"),
                "\(again.stderr)"
            )
            let unknown = try cluster.coord(["cancel", "999999"])
            #expect(unknown.status == 1 && unknown.stderr.contains("unknown job 999999"), "\(unknown.stderr)")
            let rest = try cluster.coord(["submit", corpus.path, "--index", "c"])
            #expect(rest.status == 0, "\(rest.stderr)")
            #expect(rest.stderr.contains("\(vectors) unchanged"), "\(rest.stderr)")
            try IndexAssertions(database: database).exactlyOnce(
                index: "c",
                ids: IndexAssertions(database: database).ids(documents)
            )
        }
    }
}
