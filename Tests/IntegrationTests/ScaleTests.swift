import DriftlessTestSupport
import Foundation
import Testing

extension TestResources {
    /// The load-test model (`Ops/loadtest.py model`: one BERT layer of width 32 with
    /// all-MiniLM-L6-v2's tokenizer, seeded weights) written into a temporary folder.
    static func loadTestModel() throws -> String {
        let folder = try temporaryDirectory().appendingPathComponent("driftless-loadtest-tiny").path
        let run = try loadTest(["model", folder, "--tokenizer-from", minilm])
        #expect(run.status == 0, "Ops/loadtest.py model: \(run.stderr)")
        return folder
    }

    /// `Ops/loadtest.py corpus`: `count` synthetic documents (sentences of SciFact recombined, seeded).
    static func loadTestCorpus(_ count: Int) throws -> URL {
        let file = try temporaryDirectory().appendingPathComponent("synthetic.jsonl")
        let run = try loadTest([
            "corpus", file.path, "--documents", "\(count)",
            "--from", shared.appendingPathComponent("data/scifact/corpus.jsonl").path,
        ])
        #expect(run.status == 0, "Ops/loadtest.py corpus: \(run.stderr)")
        return file
    }

    private static func loadTest(_ arguments: [String]) throws -> Run {
        try run(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", repository.appendingPathComponent("Ops/loadtest.py").path] + arguments
        )
    }
}

extension Integration {
    @Suite("Scale")
    struct ScaleTests {
        @Test("eight workers on the load-test model: every document exactly once, every worker dealt work")
        func eightWorkers() throws {
            let model = try TestResources.loadTestModel()
            let corpus = try TestResources.loadTestCorpus(4000)
            let ids = try String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").map {
                (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["_id"] as! String
            }
            #expect(ids.count == 4000 && Set(ids).count == 4000, "the generator's ids are unique")

            let cluster = try TestCluster(models: ["driftless-loadtest-tiny": model])
            // Sealed in steps (4,000 documents, 1,000 a step), as a big corpus is.
            try cluster.startCoordinator(["--seal-batch", "1000"])
            let workers = try (0..<8).map { _ in try cluster.startWorker() }

            let run = try cluster.coord([
                "submit", corpus.path, "--index", "synthetic", "--model", "driftless-loadtest-tiny",
                "--shard-size", "16",
            ])
            #expect(run.status == 0, "\(run.stderr)\n\(cluster.logs)")
            #expect(run.stdout.contains("4000 documents indexed"), "\(run.stdout)")

            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "synthetic", ids: ids)
            let dealt = try cluster.database.connect().execute(
                "SELECT worker, count(*) FROM shards WHERE state = 'done' GROUP BY worker ORDER BY worker"
            )
            #expect(dealt.rows.count == 8, "shards done per worker: \(dealt.rows)\n\(workers.map(\.log).joined())")
            // A finished job's staged rows are deleted in bounded steps after it finishes.
            #expect(
                try eventually(20) { try cluster.database.count("SELECT count(*) FROM job_documents") == 0 },
                "staged rows dropped"
            )
        }

        @Test(
            "staging and shard commits read their own rows, not the whole job or collection, however stale the statistics"
        )
        func writesReadTheirOwnRows() throws {
            let model = try TestResources.loadTestModel()
            let corpus = try TestResources.loadTestCorpus(6000)
            let cluster = try TestCluster(models: ["driftless-loadtest-tiny": model])
            try cluster.startCoordinator()
            func submit(_ index: String) throws -> Int64 {
                let run = try cluster.coord([
                    "submit", corpus.path, "--index", index, "--model", "driftless-loadtest-tiny", "--shard-size",
                    "500",
                    "--detach",
                ])
                #expect(run.status == 0, "\(run.stderr)\n\(cluster.logs)")
                return try #require(Int64(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            }
            func rowsRead(_ table: String) throws -> Int {
                // Backends report their counts when idle, a second or so later.
                Thread.sleep(forTimeInterval: 3)
                return try cluster.database.count(
                    """
                    SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables
                    WHERE relname = $1
                    """,
                    [table]
                )
            }
            // Statistics taken while the staging table held another job's rows and the documents
            // none, and kept so: what the planner knows in a big job's first minutes, before
            // autovacuum analyzes the tables again. Then a staged chunk's duplicate check walked
            // every row staged before it, once per document; and a commit that looked its
            // documents up again to see which writes won scanned the whole collection, once per shard.
            let first = try submit("first")  // no worker yet: its rows stay staged
            let db = try cluster.database.connect()
            // And statistics that think ids repeat (as a sample of a big staging table can): an
            // "earliest row with this id, ORDER BY seq LIMIT 1" looked cheapest by walking the job's
            // rows in seq order, seen in a 100,000-document upload that stalled for seconds a chunk.
            try db.execute("ALTER TABLE job_documents ALTER COLUMN doc_id SET (n_distinct = 100)")
            for table in ["documents", "job_documents"] {
                try db.execute("ALTER TABLE \(table) SET (autovacuum_enabled = off)")
                try db.execute("ANALYZE \(table)")
            }
            let before = try rowsRead("job_documents")
            let second = try submit("second")
            let staged = try rowsRead("job_documents") - before
            print("rows of job_documents read while 6,000 were staged and sealed: \(staged)")
            // Each staged row is read a few times (its duplicate check, the seal's); a check that
            // walks the rows staged before it reads millions.
            #expect(staged < 60000, "\(staged) rows of job_documents read while 6,000 were staged and sealed")

            try cluster.startWorker()
            #expect(try cluster.waitForJob(first) == "done", "\(cluster.logs)")
            #expect(try cluster.waitForJob(second) == "done", "\(cluster.logs)")
            let documents = try rowsRead("documents")
            print("rows of documents read while 12,000 were committed in 24 shards: \(documents)")
            #expect(documents < 6000, "\(documents) rows of documents read by scans while 12,000 were committed")
        }

        @Test("an upload with chunks in flight does not hold the workers' heartbeats back past their lease")
        func uploadLeavesWorkersHeard() throws {
            let model = try TestResources.loadTestModel()
            let corpus = try TestResources.loadTestCorpus(60000)
            let cluster = try TestCluster(models: ["driftless-loadtest-tiny": model])
            // A worker silent for 2 s is dead; the upload of 120 chunks takes several seconds.
            try cluster.startCoordinator(["--lease-seconds", "2", "--heartbeat-seconds", "0.5"])
            try cluster.startWorker()
            let run = try cluster.coord([
                "submit", corpus.path, "--index", "heard", "--model", "driftless-loadtest-tiny", "--shard-size",
                "500", "--detach",
            ])
            #expect(run.status == 0, "\(run.stderr)\n\(cluster.logs)")
            // A coordinator that drained one client's chunks without a time bound read none of the
            // worker's heartbeats until the upload was done, and declared it dead.
            #expect(
                !cluster.coordinator!.log.contains("worker silent"),
                "the idle worker was declared dead during the upload\n\(cluster.logs)"
            )
        }

        @Test("a worker's shard commits go through one temporary table for its connection's life")
        func commitsReuseOneTable() throws {
            let model = try TestResources.loadTestModel()
            let corpus = try TestResources.loadTestCorpus(1000)
            let cluster = try TestCluster(models: ["driftless-loadtest-tiny": model])
            try cluster.startCoordinator()
            try cluster.startWorker()
            // The temporary tables of the worker's connection (each backend has its own schema).
            let tables = """
                SELECT c.oid::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relname = 'incoming' AND c.relpersistence = 't' AND n.nspname LIKE 'pg_temp_%'
                """
            func index(_ name: String) throws -> [String] {
                let run = try cluster.coord([
                    "submit", corpus.path, "--index", name, "--model", "driftless-loadtest-tiny", "--shard-size", "100",
                ])
                #expect(run.status == 0, "\(run.stderr)\n\(cluster.logs)")
                return try cluster.database.connect().execute(tables).rows.compactMap { $0[0] }
            }
            // Made and dropped at each of the 20 commits, the table wrote and deleted catalog rows
            // each time: the churn after which a 10,000,000-document upload's commit waited past its
            // lock timeout (UploadStaging.stagingTableAndLockWait for the coordinator's side).
            let first = try index("first")
            #expect(first.count == 1, "temporary tables named incoming after 10 commits: \(first)")
            let second = try index("second")
            #expect(second == first, "the worker's table was made again: \(first) then \(second)")
            let table = try #require(
                try cluster.database.scalar("SELECT vector_table FROM indexes WHERE name = 'second'")
            )
            #expect(try cluster.database.count("SELECT count(*) FROM \(table)") == 1000, "the second index's vectors")
        }

        @Test("a finished job's staged rows are deleted in bounded steps, each reading its own rows only")
        func stagedRowsDroppedInSteps() throws {
            let model = try TestResources.loadTestModel()
            let corpus = try TestResources.loadTestCorpus(6000)
            let cluster = try TestCluster(models: ["driftless-loadtest-tiny": model])
            // Small steps, as a million-row job's are small beside it: 120 of them.
            try cluster.startCoordinator(["--cleanup-batch", "50"])
            let run = try cluster.coord([
                "submit", corpus.path, "--index", "cleanup", "--model", "driftless-loadtest-tiny", "--shard-size",
                "500", "--detach",
            ])
            #expect(run.status == 0, "\(run.stderr)\n\(cluster.logs)")
            let job = try #require(Int64(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(try cluster.database.count("SELECT count(*) FROM job_documents") == 6000, "staged, no worker yet")
            try cluster.database.connect().execute("ALTER TABLE job_documents SET (autovacuum_enabled = off)")
            // Pages of the table read, not rows: a scan walks the dead rows of earlier steps too,
            // which the row counts leave out. With `indexes`, its indexes' pages too.
            func pagesRead(indexes: Bool = false) throws -> Int {
                Thread.sleep(forTimeInterval: 3)  // backends report their counts when idle
                return try cluster.database.count(
                    """
                    SELECT coalesce(heap_blks_read, 0) + coalesce(heap_blks_hit, 0)
                        + CASE WHEN $1 THEN coalesce(idx_blks_read, 0) + coalesce(idx_blks_hit, 0) ELSE 0 END
                    FROM pg_statio_user_tables WHERE relname = 'job_documents'
                    """,
                    [indexes ? "true" : "false"]
                )
            }
            let pages = try cluster.database.count("SELECT pg_relation_size('job_documents') / 8192")
            let before = try pagesRead()
            try cluster.startWorker()
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            // Watched in the log: counting the staged rows would read them.
            // 120 steps of 50 rows, and one that finds none left: bounded statements, not one over them all.
            #expect(
                cluster.coordinator!.waitForLog("documents=6000 job=\(job) steps=121", seconds: 90),
                "staged rows dropped\n\(cluster.logs)"
            )
            let read = try pagesRead() - before
            #expect(try cluster.database.count("SELECT count(*) FROM job_documents") == 0, "every staged row dropped")
            print(
                "pages of job_documents (\(pages) in all) read while 6,000 rows were dealt and dropped in 120 steps: \(read)"
            )
            // A page read per row fetched by dealing, two per row a step finds and deletes: about
            // 20,000. Steps that each scan the table (its dead rows too) read it 120 times.
            #expect(
                read < 30000,
                "\(read) pages of job_documents (\(pages) in all) read while 6,000 rows were dealt and dropped"
            )
            // Then the job is not looked at again (twice in these 10 s otherwise, walking the
            // dead index entries of its 6,000 rows: 2 s a look at a million).
            let quietFrom = try pagesRead(indexes: true)
            Thread.sleep(forTimeInterval: 7)
            let quiet = try pagesRead(indexes: true) - quietFrom
            #expect(quiet < 10, "\(quiet) pages of job_documents and its indexes read after its rows were dropped")
        }

        @Test("many workers asking at once for big shards do not hold the coordinator: status answers meanwhile")
        func dealingYields() throws {
            let model = try TestResources.loadTestModel()
            let corpus = try TestResources.loadTestCorpus(16_000)
            let cluster = try TestCluster(models: ["driftless-loadtest-tiny": model])
            try cluster.startCoordinator()
            for _ in 0..<8 { try cluster.startWorker() }
            // 8 workers × 2 credits: 16 shards of 2,000 documents to read and encode at once, seconds
            // of work when done in one go.
            let submitted = try cluster.coord([
                "submit", corpus.path, "--index", "big-shards", "--model", "driftless-loadtest-tiny",
                "--shard-size", "2000", "--detach",
            ])
            let job = try #require(Int64(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            var worst = 0.0
            var answers = 0
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline,
                try cluster.database.scalar("SELECT state FROM jobs WHERE id = $1", [String(job)]) == "running"
            {
                let asked = Date()
                let status = try cluster.coord(["status", "--timeout", "20"])
                #expect(status.status == 0, "\(status.stderr)")
                worst = max(worst, Date().timeIntervalSince(asked))
                answers += 1
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(try cluster.waitForJob(job) == "done", "\(cluster.logs)")
            #expect(answers >= 3, "the job ran too briefly to be watched (\(answers) answers)")
            // Held for a whole burst of deals, an answer takes seconds; between deals, a fraction of one.
            print("slowest status answer while big shards were dealt: \(worst) s, \(answers) answers")
            #expect(worst < 2, "the slowest status answer took \(worst) s while shards were dealt")
        }

        @Test(
            "an index stored as halfvec: half-precision column and HNSW graph, the same answers as vector, storage fixed"
        )
        func halfPrecisionStorage() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(60)
            for (index, storage) in [("full", "vector"), ("half", "halfvec")] {
                let run = try cluster.coord([
                    "submit", corpus.path, "--index", index, "--model", "all-MiniLM-L6-v2", "--storage", storage,
                ])
                #expect(run.status == 0, "\(run.stderr)\n\(cluster.logs)")
            }
            let db = try cluster.database.connect()
            for (index, type, operatorClass) in [
                ("full", "vector(384)", "vector_cosine_ops"), ("half", "halfvec(384)", "halfvec_cosine_ops"),
            ] {
                let table = try IndexAssertions(database: cluster.database).vectorTable(index)
                let column = try db.execute(
                    """
                    SELECT format_type(a.atttypid, a.atttypmod), a.attstorage FROM pg_attribute a
                    WHERE a.attrelid = $1::regclass AND a.attname = 'embedding'
                    """,
                    [table]
                )
                #expect(column.rows.first?[0] == type, "\(index): \(column.rows)")
                #expect(column.rows.first?[1] == "p", "\(index): the vectors stay in the row (STORAGE PLAIN)")
                let graph = try db.execute(
                    """
                    SELECT o.opcname FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0]
                    WHERE i.indexrelid = to_regclass($1)
                    """,
                    [table + "_hnsw"]
                )
                #expect(graph.rows.first?[0] == operatorClass, "\(index): \(graph.rows)")
            }
            // The same documents come back, in nearly the same order (float16 rounds the scores).
            for target in documents.prefix(5) {
                let title = target["title"] as! String
                var answers: [[String]] = []
                for index in ["full", "half"] {
                    let query = try cluster.coordOnDatabase(["query", "--index", index, "-k", "10", "--json", title])
                    #expect(query.status == 0, "\(query.stderr)")
                    let answer = try JSONSerialization.jsonObject(with: Data(query.stdout.utf8)) as! [String: Any]
                    answers.append((answer["results"] as! [[String: Any]]).map { $0["id"] as! String })
                }
                #expect(answers[1].first == answers[0].first, "\(answers)")
                #expect(Set(answers[0]).intersection(answers[1]).count >= 9, "\(answers)")
            }
            // The storage is fixed when the index is made.
            let refused = try cluster.coord([
                "submit", corpus.path, "--index", "half", "--model", "all-MiniLM-L6-v2", "--storage", "vector",
            ])
            #expect(refused.status != 0)
            #expect(
                refused.stderr.contains("index half stores its vectors as halfvec, not vector"),
                "\(refused.stderr)"
            )
        }
    }
}
