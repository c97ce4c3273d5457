import DriftlessTestSupport
import Foundation
import Testing

extension Integration {
    @Suite("Upgrade")
    struct UpgradeTests {
        static let successor = "all-MiniLM-L6-v2-scifact-ft"

        @Test(
            "coord upgrade: project through a projection fitted on a sample the workers embed, rescore, rollback; bad requests named"
        )
        func upgradeAndRollback() throws {
            let cluster = try TestCluster(models: [
                "all-MiniLM-L6-v2": TestResources.minilm, Self.successor: TestResources.model(Self.successor),
                "all-mpnet-base-v2": TestResources.model("all-mpnet-base-v2"),
            ])
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(120)
            let submit = try cluster.coord([
                "submit", corpus.path, "--index", "sci", "--model", "all-MiniLM-L6-v2", "--shard-size", "30",
            ])
            #expect(submit.status == 0, "\(submit.stderr)\n\(cluster.logs)")
            let upgrade = { (arguments: [String]) throws -> TestResources.Run in
                try TestResources.run(
                    TestResources.coordExecutable,
                    ["upgrade", "--index", "sci"] + arguments + [
                        "--database", cluster.database.url, "--coordinator", cluster.clientEndpoint, "--models",
                        cluster.modelsFolder.path,
                    ]
                )
            }
            let title = documents[11]["title"] as! String
            let topHit = { () throws -> String? in
                let run = try cluster.coordOnDatabase(["query", "--index", "sci", "-k", "1", "--json", title])
                #expect(run.status == 0, "\(run.stderr)")
                let answer = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
                return ((answer?["results"] as? [[String: Any]])?.first)?["id"] as? String
            }

            // Titles as queries, each judging its own document, for --eval's table.
            let folder = try TestResources.temporaryDirectory()
            let (queries, qrels) = try TestResources.titleQueries(documents, count: 10)
            let (queriesPath, qrelsPath) = (
                folder.appendingPathComponent("queries.jsonl").path, folder.appendingPathComponent("qrels.tsv").path
            )
            try queries.write(toFile: queriesPath, atomically: true, encoding: .utf8)
            try qrels.write(toFile: qrelsPath, atomically: true, encoding: .utf8)

            // project: 60 sampled documents embedded by the workers into sci@successor, a fit, the switch, the table.
            // Forced: 12 pseudo-queries put procrustes's predicted change (-0.10) at the edge of its interval
            // (upper end +0.0000 here, just below zero on another CPU's rounding), and this test is about the
            // switch; the refusal of a predicted loss is UpgradePredictionTests's.
            let project = try upgrade([
                "--to", Self.successor, "--mode", "project", "--sample", "60", "--method", "procrustes", "--eval",
                queriesPath, qrelsPath, "--force",
            ])
            #expect(project.status == 0, "\(project.stdout)\(project.stderr)\n\(cluster.logs)")
            #expect(project.stdout.contains("now serving \(Self.successor) in project mode"), "\(project.stdout)")
            #expect(project.stdout.contains("pairs: 60 documents + 0 queries"), "\(project.stdout)")
            #expect(
                project.stdout.contains("predicted change against the old model, project (procrustes): ")
                    && project.stdout.contains("pseudo-queries)"),
                "\(project.stdout)"
            )
            #expect(project.stdout.contains("all-MiniLM-L6-v2, native (old vectors)"), "\(project.stdout)")
            #expect(project.stdout.contains("\(Self.successor), project through projection"), "\(project.stdout)")
            #expect(
                project.stdout.contains("the new model on native vectors: after `coord reindex"),
                "\(project.stdout)"
            )
            // Validated on inverse-cloze pseudo-queries from the 12 held-out sampled documents.
            #expect(project.stdout.contains("sentences taken out of held-out sampled documents"), "\(project.stdout)")
            #expect(!project.stdout.contains("(0 sentences"), "\(project.stdout)")
            #expect(try cluster.database.count("SELECT count(*) FROM \"index_vectors_2\"") == 60)
            #expect(try cluster.database.scalar("SELECT mode FROM index_serving WHERE ended_at IS NULL") == "project")
            #expect(try topHit() == documents[11]["_id"] as? String)
            // The registry says which model built the index and which serves it.
            let models = try cluster.coordOnDatabase(["models", "list"], models: false)
            #expect(
                models.status == 0 && models.stdout.contains("indexes built: sci"),
                "\(models.stdout)\(models.stderr)"
            )
            #expect(models.stdout.contains("serving the queries of: sci (project)"), "\(models.stdout)")
            let successorFolder = cluster.modelsFolder.appendingPathComponent(Self.successor).path
            let known = try cluster.coordOnDatabase(
                ["models", "add", Self.successor, "--path", successorFolder],
                models: false
            )
            #expect(known.status == 0 && known.stdout.contains("registered already"), "\(known.stdout)\(known.stderr)")
            let misnamed = try cluster.coordOnDatabase(
                ["models", "add", "other-name", "--path", successorFolder],
                models: false
            )
            #expect(misnamed.status == 1 && misnamed.stderr.contains("not other-name"), "\(misnamed.stderr)")

            // Bad requests, each named.
            let again = try upgrade(["--to", Self.successor, "--mode", "project", "--sample", "60"])
            #expect(
                again.status == 1 && again.stderr.contains("already serves \(Self.successor) in project mode"),
                "\(again.stderr)"
            )
            let tooMany = try upgrade(["--to", Self.successor, "--mode", "fuse", "--sample", "1000"])
            #expect(
                tooMany.status == 1
                    && tooMany.stderr.contains("--sample 1000 is larger than index sci (120 documents)"),
                "\(tooMany.stderr)"
            )
            let unknown = try upgrade(["--to", "no-such-model"])
            #expect(
                unknown.status == 1 && unknown.stderr.contains("unknown model \"no-such-model\""),
                "\(unknown.stderr)"
            )
            let same = try upgrade(["--to", "all-MiniLM-L6-v2"])
            #expect(
                same.status == 1 && same.stderr.contains("is embedded by all-MiniLM-L6-v2 already"),
                "\(same.stderr)"
            )
            // Another model's queries without a projection: refused, never answered.
            let raw = try cluster.coordOnDatabase([
                "query", "--index", "sci", "--model", "all-mpnet-base-v2", "--mode", "native", title,
            ])
            #expect(raw.status == 1 && raw.stderr.contains("the dimensions differ"), "\(raw.stderr)")

            // rescore: candidates re-scored with successor vectors, the missing ones embedded on demand and kept.
            let rescore = try upgrade(["--to", Self.successor, "--mode", "rescore", "--rescore-depth", "20"])
            #expect(rescore.status == 0, "\(rescore.stderr)")
            // The first rescore query: of its 20 candidates some lack a successor vector (60 of 120 have one);
            // by default the worker embeds them, as an urgent job, while the query waits.
            let vectorsBefore = try cluster.database.count("SELECT count(*) FROM \"index_vectors_2\"")
            let jobsBefore = try cluster.database.count("SELECT count(*) FROM jobs")
            let byWorkers = try cluster.coordOnDatabase([
                "query", "--index", "sci", "-k", "1", "--json", "--coordinator",
                cluster.clientEndpoint, title,
            ])
            #expect(byWorkers.status == 0, "\(byWorkers.stderr)\n\(cluster.logs)")
            #expect(!byWorkers.stderr.contains("embedding here instead"), "\(byWorkers.stderr)")
            let answer = try JSONSerialization.jsonObject(with: Data(byWorkers.stdout.utf8)) as? [String: Any]
            #expect(
                ((answer?["results"] as? [[String: Any]])?.first)?["id"] as? String == documents[11]["_id"] as? String
            )
            #expect(try cluster.database.count("SELECT count(*) FROM \"index_vectors_2\"") > vectorsBefore)
            #expect(try cluster.database.count("SELECT count(*) FROM jobs") == jobsBefore + 1)
            #expect(try cluster.database.scalar("SELECT state FROM jobs ORDER BY id DESC LIMIT 1") == "done")
            #expect(cluster.logs.contains("urgent job done"), "\(cluster.logs)")
            #expect(try topHit() == documents[11]["_id"] as? String)
            #expect(try cluster.database.count("SELECT count(*) FROM \"index_vectors_2\"") > 60)

            // Rollback, twice: rescore → project → native.
            let back = try upgrade(["--rollback"])
            #expect(
                back.status == 0 && back.stdout.contains("serving project with \(Self.successor) again"),
                "\(back.stdout)\(back.stderr)"
            )
            let native = try upgrade(["--rollback"])
            #expect(
                native.status == 0 && native.stdout.contains("serving native with all-MiniLM-L6-v2 again"),
                "\(native.stdout)\(native.stderr)"
            )
            #expect(try topHit() == documents[11]["_id"] as? String)
            let nothing = try upgrade(["--rollback"])
            #expect(nothing.status == 1 && nothing.stderr.contains("has no upgrade to roll back"), "\(nothing.stderr)")

            // Promotion needs every document's new vector.
            let direct = { (command: String, arguments: [String], client: Bool) throws -> TestResources.Run in
                try TestResources.run(
                    TestResources.coordExecutable,
                    [command, "--index", "sci"] + arguments + ["--database", cluster.database.url]
                        + (client
                            ? ["--coordinator", cluster.clientEndpoint, "--models", cluster.modelsFolder.path] : [])
                )
            }
            let early = try direct("promote", ["--to", Self.successor], false)
            #expect(early.status == 1 && early.stderr.contains("lacks"), "\(early.stderr)")
            // Re-index in the background; queries are answered throughout.
            let reindex = try direct("reindex", ["--to", Self.successor, "--detach"], true)
            #expect(reindex.status == 0, "\(reindex.stderr)")
            let job = try #require(
                Int64(reindex.stdout.trimmingCharacters(in: .whitespacesAndNewlines)),
                "\(reindex.stdout)"
            )
            var answered = 0
            while try cluster.database.scalar("SELECT state FROM jobs WHERE id = $1", [String(job)]) != "done" {
                #expect(try topHit() == documents[11]["_id"] as? String)
                answered += 1
                if answered > 200 {
                    Issue.record("the re-index did not finish")
                    break
                }
            }
            #expect(answered >= 1)
            #expect(try cluster.database.count("SELECT count(*) FROM \"index_vectors_2\"") == 120)
            let promote = try direct("promote", ["--to", Self.successor], false)
            #expect(
                promote.status == 0 && promote.stdout.contains("promoted to \(Self.successor)"),
                "\(promote.stdout)\(promote.stderr)"
            )
            #expect(try cluster.database.scalar("SELECT mode FROM index_serving WHERE ended_at IS NULL") == "promoted")
            #expect(try topHit() == documents[11]["_id"] as? String)
            let twice = try direct("promote", [], false)
            #expect(twice.status == 1 && twice.stderr.contains("already promoted"), "\(twice.stderr)")
            let unpromote = try upgrade(["--rollback"])
            #expect(
                unpromote.status == 0 && unpromote.stdout.contains("serving native with all-MiniLM-L6-v2 again"),
                "\(unpromote.stdout)"
            )
            // gc only after a promotion; then the old vectors are gone and so is the way back.
            let inUse = try direct("gc", [], false)
            #expect(inUse.status == 1 && inUse.stderr.contains("its vectors are in use"), "\(inUse.stderr)")
            #expect(try direct("promote", ["--to", Self.successor], false).status == 0)
            let dry = try direct("gc", ["--dry-run"], false)
            #expect(
                dry.status == 0 && dry.stdout.contains("would free 120 vectors of all-MiniLM-L6-v2"),
                "\(dry.stdout)\(dry.stderr)"
            )
            #expect(try cluster.database.count("SELECT count(*) FROM \"index_vectors_1\"") == 120)
            let gc = try direct("gc", [], false)
            #expect(gc.status == 0 && gc.stdout.contains("freed 120 vectors"), "\(gc.stdout)\(gc.stderr)")
            // The successor is the index now: its record names the new model and the successor's vectors.
            #expect(try cluster.database.scalar("SELECT to_regclass('index_vectors_1')::text") == nil)
            #expect(
                try cluster.database.scalar(
                    "SELECT m.name || ' ' || i.vector_table FROM indexes i JOIN models m ON m.id = i.model_id WHERE i.name = 'sci'"
                ) == "\(Self.successor) index_vectors_2"
            )
            #expect(try cluster.database.count("SELECT count(*) FROM indexes") == 1)
            #expect(try cluster.database.count("SELECT count(*) FROM projections") == 0)
            #expect(try topHit() == documents[11]["_id"] as? String)
            let noWayBack = try upgrade(["--rollback"])
            #expect(
                noWayBack.status == 1 && noWayBack.stderr.contains("has no upgrade to roll back"),
                "\(noWayBack.stderr)"
            )
        }
    }
}
