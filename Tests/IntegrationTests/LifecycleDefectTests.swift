import DriftlessTestSupport
import Foundation
import Testing

extension Integration {
    /// One test per defect of the model lifecycle (issue 13), each failing on the code before its fix.
    @Suite("Lifecycle defects")
    struct LifecycleDefectTests {
        static let v1 = "all-MiniLM-L6-v2"
        static let v2 = "all-MiniLM-L6-v2-scifact-ft"

        /// A cluster with both models, one worker, and `count` SciFact documents indexed by v1 as `sci`.
        static func indexed(_ count: Int) throws -> (TestCluster, [[String: Any]]) {
            let cluster = try TestCluster(models: [v1: TestResources.minilm, v2: TestResources.model(v2)])
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(count)
            let submit = try cluster.coord([
                "submit", corpus.path, "--index", "sci", "--model", v1, "--shard-size", "16",
            ])
            #expect(submit.status == 0, "\(submit.stderr)")
            return (cluster, documents)
        }

        /// `coord COMMAND --index sci …` with the database, the coordinator and the models as the command takes them.
        static func run(_ cluster: TestCluster, _ arguments: [String]) throws -> TestResources.Run {
            let command = arguments[0]
            return try TestResources.run(
                TestResources.coordExecutable,
                [command, "--index", "sci"] + arguments.dropFirst() + ["--database", cluster.database.url]
                    + (["upgrade", "reindex", "query"].contains(command)
                        ? ["--models", cluster.modelsFolder.path] : [])
                    + (["upgrade", "reindex"].contains(command) ? ["--coordinator", cluster.clientEndpoint] : [])
            )
        }

        /// Ids of the top `k` results for `text`, with extra `coord query` arguments.
        static func top(_ cluster: TestCluster, _ text: String, k: Int = 3, _ extra: [String] = []) throws -> [String] {
            let run = try run(cluster, ["query", "-k", "\(k)", "--json"] + extra + [text])
            #expect(run.status == 0, "\(run.stderr)")
            let answer = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
            return (answer?["results"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        }

        static func corpus(_ documents: [[String: Any]]) throws -> URL {
            let url = try TestResources.temporaryDirectory().appendingPathComponent("changes.jsonl")
            let lines = try documents.map {
                String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
            return url
        }

        @Test("a document changed after the re-index: promote refuses, the next re-index embeds it again")
        func contentHashesNotIds() throws {
            let (cluster, documents) = try Self.indexed(40)
            #expect(try Self.run(cluster, ["reindex", "--to", Self.v2]).status == 0)
            // Changed while no re-index runs and no upgrade serves: only the index gets it.
            var changed = try TestResources.scifactSubset(1, from: 300).documents[0]
            changed["_id"] = documents[7]["_id"]
            let text = "\(changed["title"]!) \(changed["text"]!)"
            #expect(try cluster.coord(["submit", try Self.corpus([changed]).path, "--index", "sci"]).status == 0)
            let early = try Self.run(cluster, ["promote", "--to", Self.v2])
            #expect(
                early.status == 1 && early.stderr.contains("lacks the current version of 1 documents"),
                "\(early.stdout)\(early.stderr)"
            )
            let again = try Self.run(cluster, ["reindex", "--to", Self.v2])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.contains("1 documents to embed"), "\(again.stderr)")
            #expect(try Self.run(cluster, ["promote", "--to", Self.v2]).status == 0)
            #expect(try Self.top(cluster, text).first == documents[7]["_id"] as? String)
        }

        @Test("an upgrade started while a re-index runs waits for its whole sample")
        func upgradeDuringReindex() throws {
            let (cluster, _) = try Self.indexed(150)
            let reindex = try Self.run(cluster, ["reindex", "--to", Self.v2, "--detach"])
            #expect(reindex.status == 0, "\(reindex.stderr)")
            let upgrade = try Self.run(
                cluster,
                ["upgrade", "--to", Self.v2, "--mode", "project", "--sample", "40", "--method", "procrustes"]
            )
            #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)\n\(cluster.logs)")
            #expect(upgrade.stdout.contains("pairs: 40 documents"), "\(upgrade.stdout)\(upgrade.stderr)")
        }

        @Test("rescore's on-demand vectors come with their documents: filtered queries find them after promote")
        func onDemandWritesDocuments() throws {
            let (cluster, documents) = try Self.indexed(60)
            #expect(try Self.run(cluster, ["upgrade", "--to", Self.v2, "--mode", "rescore"]).status == 0)
            let target = documents[9]
            let title = target["title"] as! String
            // Embedded here, on demand (no coordinator answers at the default endpoint, so this process embeds
            // them): the candidates' vectors go into the successor.
            #expect(try Self.top(cluster, title).first == target["_id"] as? String)
            let successor = try #require(
                try cluster.database.scalar("SELECT vector_table FROM indexes WHERE name LIKE 'sci@%'")
            )
            let onDemand = try cluster.database.count("SELECT count(*) FROM \(successor)")
            #expect(onDemand >= 20)
            let orphans = try cluster.database.count(
                """
                SELECT count(*) FROM \(successor) v JOIN indexes s ON s.vector_table = $1
                WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.collection_id = s.collection_id AND d.doc_id = v.doc_id)
                """,
                [successor]
            )
            #expect(orphans == 0, "\(orphans) of \(onDemand) on-demand vectors lack their document")
            #expect(try Self.run(cluster, ["reindex", "--to", Self.v2]).status == 0)
            #expect(try Self.run(cluster, ["promote", "--to", Self.v2]).status == 0)
            // The target's vector came on demand (the re-index skipped it); a metadata filter needs its document row.
            #expect(
                try Self.top(cluster, title, ["--filter", "year=\(target["year"]!)"]).first == target["_id"] as? String
            )
        }

        @Test("after gc the index is its successor: a rescore upgrade answers, rollback stops at the gc")
        func upgradeAfterGc() throws {
            let (cluster, documents) = try Self.indexed(40)
            #expect(try Self.run(cluster, ["reindex", "--to", Self.v2]).status == 0)
            #expect(try Self.run(cluster, ["promote", "--to", Self.v2]).status == 0)
            // gc waits for open jobs: a change submitted with no worker left stays running.
            cluster.workers[0].signal(SIGTERM)
            #expect(cluster.workers[0].wait(seconds: 30) == 0)
            var changed = try TestResources.scifactSubset(1, from: 300).documents[0]
            changed["_id"] = documents[5]["_id"]
            let job = try #require(
                Int64(
                    try cluster.coord(["submit", try Self.corpus([changed]).path, "--index", "sci", "--detach"]).stdout
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                )
            )
            let early = try Self.run(cluster, ["gc"])
            #expect(
                early.status == 1 && early.stderr.contains("has open jobs on its generations (\(job))"),
                "\(early.stderr)"
            )
            try cluster.startWorker()
            #expect(
                try eventually(120, poll: 0.5) {
                    try cluster.database.count(
                        "SELECT count(*) FROM jobs WHERE state IN ('receiving', 'running', 'indexing')"
                    )
                        == 0
                }
            )
            #expect(try Self.run(cluster, ["gc"]).status == 0)
            // The next upgrade starts from v2: back to v1, by re-scoring.
            let rescore = try Self.run(cluster, ["upgrade", "--to", Self.v1, "--mode", "rescore"])
            #expect(rescore.status == 0, "\(rescore.stdout)\(rescore.stderr)")
            let title = documents[3]["title"] as! String
            #expect(try Self.top(cluster, title).first == documents[3]["_id"] as? String)
            let back = try Self.run(cluster, ["upgrade", "--rollback"])
            #expect(
                back.status == 0 && back.stdout.contains("serving native with \(Self.v2) again"),
                "\(back.stdout)\(back.stderr)"
            )
            let beyond = try Self.run(cluster, ["upgrade", "--rollback"])
            #expect(beyond.status == 1 && beyond.stderr.contains("has no upgrade to roll back"), "\(beyond.stderr)")
            #expect(try Self.top(cluster, title).first == documents[3]["_id"] as? String)
        }
    }
}
