import DriftlessTestSupport
import Embedding
import Foundation
import Store
import Testing

/// `coord submit` end to end: a coordinator and two worker processes over real
/// ZeroMQ sockets, writing into a real PostgreSQL with pgvector.
/// The integration suites run one test at a time: they share one PostgreSQL
/// server (which one test restarts) and the machine's two cores.
@Suite("Integration", .serialized)
enum Integration {}

extension Integration {
    @Suite("Indexing")
    struct IndexingTests {
        @Test("two workers index a corpus: each document once, vectors equal to the engine's, metadata kept")
        func indexesCorpus() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            let first = try cluster.startWorker()
            let second = try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(120)

            let run = try cluster.coord([
                "submit", corpus.path, "--index", "scifact", "--model", "all-MiniLM-L6-v2", "--shard-size", "8",
            ])
            #expect(run.status == 0, "\(run.stderr)\n\(cluster.logs)")
            #expect(run.stdout.contains("job 1 done: 120 documents indexed"), "\(run.stdout)")
            #expect(run.stderr.contains("indexing"), "no progress shown")

            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "scifact", ids: check.ids(documents))
            // Both workers did part of the work.
            let workers = try cluster.database.count("SELECT count(DISTINCT worker) FROM shards WHERE state = 'done'")
            #expect(workers == 2, "\(first.log)\n\(second.log)")

            // Vectors equal the engine's own output for each document.
            let table = try check.vectorTable("scifact")
            let rows = try cluster.database.connect().execute(
                "SELECT v.doc_id, v.embedding::text, d.title, d.body, d.metadata::text FROM \(table) v JOIN documents d USING (doc_id)"
            )
            let embedder = SentenceEmbedder(model: try EmbeddingModel(folder: TestResources.minilm), threads: 2)
            let texts = rows.rows.map { $0[2]!.isEmpty ? $0[3]! : $0[2]! + " " + $0[3]! }
            let expected = try embedder.embed(texts)
            var worst: Float = 1
            for (row, reference) in zip(rows.rows, expected) {
                let stored = CopyText.parseVector(row[1]!)
                #expect(stored.count == 384)
                let cosine = zip(stored, reference).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                worst = min(worst, cosine)
            }
            #expect(worst >= 0.99999, "worst cosine \(worst)")

            // Metadata round-trips: every field other than _id, title and text.
            let byId = Dictionary(uniqueKeysWithValues: documents.map { ($0["_id"] as! String, $0) })
            for row in rows.rows {
                let stored = try JSONSerialization.jsonObject(with: Data(row[4]!.utf8)) as! [String: Any]
                var original = byId[row[0]!]!
                #expect(row[2]! == original["title"] as! String)
                #expect(row[3]! == original["text"] as! String)
                for key in ["_id", "title", "text"] { original.removeValue(forKey: key) }
                let canonical = { (object: [String: Any]) in
                    String(
                        decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
                        as: UTF8.self
                    )
                }
                #expect(try canonical(stored) == canonical(original), "metadata of \(row[0]!)")
            }

            // Re-submitting embeds only what changed.
            var changed = try String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").map(String.init)
            changed[5] = changed[5].replacingOccurrences(of: "\"text\":\"", with: "\"text\":\"Revised. ")
            let changedURL = corpus.deletingLastPathComponent().appendingPathComponent("changed.jsonl")
            try Data((changed.joined(separator: "\n") + "\n").utf8).write(to: changedURL)
            let again = try cluster.coord([
                "submit", changedURL.path, "--index", "scifact", "--model", "all-MiniLM-L6-v2",
            ])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.contains("1 to embed in 1 shards, 119 unchanged"), "\(again.stderr)")
            try check.exactlyOnce(index: "scifact", ids: check.ids(documents), commits: nil)
            // One more commit for the revised document, none for the others.
            let commits = try cluster.database.connect().execute(
                "SELECT doc_id, commits FROM \(table) WHERE commits <> 1"
            )
            #expect(commits.rows.map { [$0[0]!, $0[1]!] } == [[documents[5]["_id"] as! String, "2"]])
            let revised = try cluster.database.scalar(
                "SELECT body FROM documents WHERE doc_id = $1",
                [documents[5]["_id"] as? String]
            )
            #expect(revised?.hasPrefix("Revised. ") == true)

            // Status, as scripts read it.
            let status = try cluster.coord(["status", "--json"])
            #expect(status.status == 0)
            let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [String: Any]
            let jobs = report["jobs"] as! [[String: Any]]
            #expect(jobs.count == 2)
            #expect((jobs.last!["docsPerSecond"] as! Double) > 0)
            #expect((report["workers"] as! [Any]).count == 2)
            // Watched: one process, an answer a line, each with the time the coordinator took.
            let watchStarted = ContinuousClock.now
            let watched = try cluster.coord(["status", "--json", "--watch", "0.3", "--times", "3"])
            // Three requests 0.3 s apart: at least 0.6 s (a watch that did not wait would be quicker).
            #expect(ContinuousClock.now - watchStarted >= .milliseconds(600))
            #expect(watched.status == 0, "\(watched.stderr)")
            let lines = watched.stdout.split(separator: "\n")
            let answers = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(lines.count == 3 && answers.count == 3, "\(watched.stdout)")
            for answer in answers {
                #expect((answer["answerMilliseconds"] as? Int).map { $0 >= 0 && $0 < 60_000 } == true)
                #expect((answer["jobs"] as? [Any])?.count == 2)
            }
            let unwatched = try cluster.coord(["status", "--times", "2"])
            #expect(unwatched.status == 64 && unwatched.stderr.contains("--times needs --watch"), "\(unwatched.stderr)")

            // SIGTERM: workers leave cleanly.
            first.signal(SIGTERM)
            #expect(first.wait(seconds: 20) == 0, "\(first.log)")
            #expect(cluster.coordinator!.waitForLog("worker leaving", seconds: 10))
        }

        @Test(
            "a corpus with invalid lines: refused with the lines named; with --skip-invalid the valid lines are indexed and the others recorded"
        )
        func invalidLines() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(20)
            var lines = try String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").map { Data($0.utf8) }
            lines.insert(Data("{not json".utf8), at: 3)
            lines.insert(Data("{\"_id\": \"no-text\"}".utf8), at: 8)
            lines.insert(Data([0x7B, 0x22, 0x5F, 0x69, 0x64, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]), at: 12)
            lines.append(lines[0])  // a duplicate id
            let bad = corpus.deletingLastPathComponent().appendingPathComponent("bad.jsonl")
            try lines.reduce(into: Data()) { $0 += $1 + Data([0x0A]) }.write(to: bad)

            let refused = try cluster.coord(["submit", bad.path, "--index", "bad", "--model", "all-MiniLM-L6-v2"])
            #expect(refused.status == 65)
            for fragment in [
                "bad.jsonl:4: invalid JSON", "bad.jsonl:9: document no-text has no \"text\"",
                "bad.jsonl:13: invalid UTF-8",
            ] {
                #expect(refused.stderr.contains(fragment), "\(refused.stderr)")
            }
            #expect(try cluster.database.count("SELECT count(*) FROM jobs") == 0, "nothing may be submitted")

            // A duplicate id is the coordinator's to find (submit holds no map of the ids): the
            // job fails naming both lines, and nothing of it is kept.
            let onlyDuplicate = corpus.deletingLastPathComponent().appendingPathComponent("duplicate.jsonl")
            var clean = try String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").map(String.init)
            clean.append(clean[2])
            try Data((clean.joined(separator: "\n") + "\n").utf8).write(to: onlyDuplicate)
            let duplicate = try cluster.coord([
                "submit", onlyDuplicate.path, "--index", "bad", "--model", "all-MiniLM-L6-v2",
            ])
            #expect(duplicate.status == 65, "\(duplicate.stderr)")
            let duplicateId = documents[2]["_id"] as! String
            #expect(
                duplicate.stderr.contains("duplicate.jsonl:21: duplicate id \(duplicateId) (first on line 3)"),
                "\(duplicate.stderr)"
            )
            #expect(try cluster.database.count("SELECT count(*) FROM jobs WHERE state = 'failed'") == 1)
            #expect(
                try eventually(10) { try cluster.database.count("SELECT count(*) FROM job_documents") == 0 },
                "nothing staged is kept"
            )
            #expect(try cluster.database.count("SELECT count(*) FROM shards") == 0)

            let skipped = try cluster.coord([
                "submit", bad.path, "--index", "bad", "--model", "all-MiniLM-L6-v2", "--skip-invalid", "--shard-size",
                "4",
            ])
            #expect(skipped.status == 0, "\(skipped.stderr)\n\(cluster.logs)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "bad", ids: check.ids(documents))
            let rejected = try cluster.database.connect().execute(
                "SELECT line, doc_id, error FROM rejected_documents ORDER BY line"
            )
            #expect(rejected.rows.map { Int($0[0]!)! } == [4, 9, 13, 24])
            #expect(rejected.rows[1][1] == "no-text")
            #expect(rejected.rows[3][2]?.contains("duplicate") == true, "\(rejected.rows)")
        }

        @Test("re-submitting while the first job still runs embeds nothing twice")
        func resubmitWhileRunning() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            let (corpus, documents) = try TestResources.scifactSubset(24)
            // No worker yet: the first job waits with all its shards pending.
            let first = try #require(try cluster.submitDetached(corpus, index: "again"))
            let second = try cluster.coord([
                "submit", corpus.path, "--index", "again", "--model", "all-MiniLM-L6-v2", "--detach",
            ])
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stderr.contains("0 to embed in 0 shards, 24 unchanged"), "\(second.stderr)")
            try cluster.startWorker()
            #expect(try cluster.waitForJob(first) == "done", "\(cluster.logs)")
            let check = IndexAssertions(database: cluster.database)
            try check.exactlyOnce(index: "again", ids: check.ids(documents))
            #expect(try cluster.database.count("SELECT count(*) FROM shards") == 3)
        }

        @Test("unknown model, missing file: clear errors, exit codes")
        func badSubmissions() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            let (corpus, _) = try TestResources.scifactSubset(3)
            let unknown = try cluster.coord(["submit", corpus.path, "--index", "x", "--model", "no-such-model"])
            #expect(unknown.status == 1)
            #expect(
                unknown.stderr.contains("unknown model \"no-such-model\"; registered: all-MiniLM-L6-v2"),
                "\(unknown.stderr)"
            )
            let missing = try cluster.coord([
                "submit", "/nonexistent.jsonl", "--index", "x", "--model", "all-MiniLM-L6-v2",
            ])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("/nonexistent.jsonl"), "\(missing.stderr)")
            let nobody = try TestResources.run(
                TestResources.coordExecutable,
                ["status", "--coordinator", "tcp://127.0.0.1:9", "--timeout", "1"]
            )
            #expect(nobody.status == 1)
            #expect(nobody.stderr.contains("no answer from the coordinator"), "\(nobody.stderr)")
            // Watching goes on through requests that get no answer, each reported, and fails at the end.
            let watchingNobody = try TestResources.run(
                TestResources.coordExecutable,
                ["status", "--coordinator", "tcp://127.0.0.1:9", "--timeout", "1", "--watch", "0.1", "--times", "2"]
            )
            #expect(watchingNobody.status == 1)
            let reported = watchingNobody.stderr.split(separator: "\n").filter {
                $0.contains("no answer from the coordinator")
            }
            #expect(reported.count == 2, "\(watchingNobody.stderr)")
            #expect(watchingNobody.stderr.contains("2 of 2 requests got no answer"), "\(watchingNobody.stderr)")
        }
    }
}
