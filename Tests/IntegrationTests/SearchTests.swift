import DriftlessTestSupport
import Foundation
import PostgresClient
import Store
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension Integration {
    @Suite("Search")
    struct SearchTests {
        /// A database with the schema and an index `synthetic` of `count` random unit vectors
        /// (dimension 32, seeded); every 100th document has metadata {"group": "rare"}, the rest "common".
        func syntheticIndex(count: Int) throws -> (TestDatabase, PostgresConnection, IndexRecord) {
            let database = try TestDatabase()
            let migrate = try TestResources.run(TestResources.coordExecutable, ["migrate", "--database", database.url])
            #expect(migrate.status == 0, "\(migrate.stderr)")
            let connection = try database.connect()
            let catalog = Catalog(connection)
            _ = try catalog.register(
                ModelRecord(
                    name: "synthetic",
                    architecture: "none",
                    dimension: 32,
                    pooling: "mean",
                    normalized: true,
                    maxSequenceLength: 8,
                    prompts: "{}",
                    weightsHash: "0"
                )
            )
            let index = try catalog.index(named: "synthetic", model: "synthetic")
            try connection.executeScript(
                """
                SELECT setseed(0.42);
                INSERT INTO documents (collection_id, doc_id, title, body, metadata, content_hash)
                SELECT \(index.collectionId), 'd' || i, 'title ' || i, 'body ' || i,
                       jsonb_build_object('group', CASE WHEN i % 100 = 0 THEN 'rare' ELSE 'common' END), 'h'
                FROM generate_series(1, \(count)) AS i;
                INSERT INTO \(index.vectorTable) (doc_id, embedding, content_hash)
                SELECT 'd' || i, l2_normalize(array_agg(random() - 0.5 ORDER BY j)::real[]::vector), 'h'
                FROM generate_series(1, \(count)) AS i, generate_series(1, 32) AS j GROUP BY i;
                ANALYZE documents; ANALYZE \(index.vectorTable);
                """
            )
            return (database, connection, index)
        }

        @Test(
            "an HNSW build whose graph outgrows maintenance_work_mem says so (pgvector's notice); one that fits does not"
        )
        func buildNotices() throws {
            let (database, _, index) = try syntheticIndex(count: 10_000)
            var cramped: [String] = []
            let outcome = try HnswIndexBuilder(url: database.url, maintenanceWorkMemory: "1MB").build(
                index,
                notice: { cramped.append($0) }
            )
            guard case .built = outcome else {
                Issue.record("no HNSW index built: \(outcome)")
                return
            }
            #expect(
                cramped.contains { $0.contains("no longer fits into maintenance_work_mem") },
                "notices: \(cramped)"
            )
            var roomy: [String] = []
            _ = try HnswIndexBuilder(url: database.url, maintenanceWorkMemory: "256MB").build(
                index,
                rebuild: true,
                notice: { roomy.append($0) }
            )
            #expect(!roomy.contains { $0.contains("maintenance_work_mem") }, "notices: \(roomy)")
        }

        @Test(
            "a filter that selects 1% of the collection still returns k results through HNSW, the same as exact search"
        )
        func selectiveFilter() throws {
            let (database, connection, created) = try syntheticIndex(count: 3000)
            let outcome = try HnswIndexBuilder(url: database.url).build(created)
            guard case .built = outcome else {
                Issue.record("no HNSW index built: \(outcome)")
                return
            }
            let index = try #require(try Catalog(connection).index(named: "synthetic"))
            #expect(index.hasHnsw)

            // On a table this small the planner filters the documents first and sorts them (exact,
            // also k results); make it use the HNSW index, as it does on large tables, so that
            // iterative scans are what is tested.
            try connection.executeScript("SET enable_sort = off")
            let search = VectorSearch(connection)
            let rare = [try MetadataFilter(parsing: "group=rare")]
            var generator = SystemRandomNumberGenerator()
            var queries: [[Float]] = []
            for _ in 0..<5 {
                let query = (0..<32).map { _ in Float.random(in: -0.5...0.5, using: &generator) }
                let norm = query.reduce(0) { $0 + $1 * $1 }.squareRoot()
                queries.append(query.map { $0 / norm })
            }
            for query in queries {
                // 30 documents match; an HNSW scan of ef_search 40 candidates out of 3000 holds about 0.4 of them.
                let hnsw = try search.search(index, vector: query, k: 10, filters: rare, method: .hnsw(efSearch: 40))
                let exact = try search.search(index, vector: query, k: 10, filters: rare, method: .exact)
                #expect(hnsw.count == 10)
                #expect(exact.count == 10)
                #expect(Set(hnsw.map(\.id)).count == 10)
                #expect(hnsw.allSatisfy { Int($0.id.dropFirst())! % 100 == 0 }, "\(hnsw.map(\.id))")
                let overlap = Set(hnsw.map(\.id)).intersection(exact.map(\.id)).count
                #expect(overlap >= 9, "HNSW with the filter found \(overlap) of the exact top 10")
                // Without a filter HNSW answers too, best first.
                let all = try search.search(index, vector: query, k: 10, method: .hnsw(efSearch: 40))
                #expect(all.count == 10)
                #expect(zip(all, all.dropFirst()).allSatisfy { $0.score >= $1.score })
            }
            // The plan is an HNSW index scan ...
            let plan = try connection.execute(
                """
                EXPLAIN SELECT v.doc_id FROM \(index.vectorTable) v JOIN documents d ON d.collection_id = $2 AND d.doc_id = v.doc_id
                WHERE d.metadata #>> '{group}' = 'rare' ORDER BY v.embedding <=> $1::vector LIMIT 10
                """,
                [CopyText.vector(queries[0]), String(index.collectionId)]
            ).rows.compactMap { $0.first ?? nil }.joined(separator: "\n")
            #expect(plan.contains(index.hnswIndexName), "\(plan)")
            // ... and without iterative scans the same search comes back short: what the filter test guards.
            try connection.executeScript("SET hnsw.iterative_scan = off")
            let short = try search.search(index, vector: queries[0], k: 10, filters: rare, method: .hnsw(efSearch: 40))
            #expect(short.count < 10, "\(short.count) results without iterative scans")
        }

        @Test("coord query and coord eval over an index built by coord submit; bad input is named")
        func queryAndEval() throws {
            let cluster = try TestCluster()
            let coordinator = try cluster.startCoordinator(["--metrics-port", "0"])
            let worker = try cluster.startWorker(extra: ["--metrics-port", "0"])
            let (corpus, documents) = try TestResources.scifactSubset(120)
            let submit = try cluster.coord([
                "submit", corpus.path, "--index", "sci", "--model", "all-MiniLM-L6-v2", "--shard-size", "16",
            ])
            #expect(submit.status == 0, "\(submit.stderr)\n\(cluster.logs)")
            // The coordinator built the HNSW index when the last shard was done.
            #expect(
                try cluster.database.scalar("SELECT to_regclass('index_vectors_1_hnsw') IS NOT NULL") == "t",
                "\(cluster.logs)"
            )
            #expect(cluster.coordinator!.log.contains("HNSW index built"), "\(cluster.logs)")
            // Both serve Prometheus metrics that counted the job.
            let coordinatorMetrics = try coordinator.metricsPage()
            #expect(coordinatorMetrics.contains("driftless_documents_indexed_total 120"), "\(coordinatorMetrics)")
            #expect(coordinatorMetrics.contains("driftless_jobs_finished_total 1"), "\(coordinatorMetrics)")
            #expect(coordinatorMetrics.contains("driftless_shard_latency_seconds_bucket"), "\(coordinatorMetrics)")
            let workerMetrics = try worker.metricsPage()
            #expect(workerMetrics.contains("driftless_worker_documents_total 120"), "\(workerMetrics)")

            let list = try cluster.coordOnDatabase(["index", "list"], models: false)
            #expect(
                list.stdout.contains(
                    "sci  all-MiniLM-L6-v2 (384-d vector)  120 vectors  HNSW m 16, ef_construction 64  ef_search 40"
                ),
                "\(list.stdout)\(list.stderr)"
            )

            // A document's title finds the document.
            let target = documents[7]
            let title = target["title"] as! String
            let query = try cluster.coordOnDatabase(["query", "--index", "sci", "-k", "3", "--json", title])
            #expect(query.status == 0, "\(query.stderr)")
            let answer = try JSONSerialization.jsonObject(with: Data(query.stdout.utf8)) as! [String: Any]
            let results = answer["results"] as! [[String: Any]]
            #expect(results.count == 3)
            #expect(results.first?["id"] as? String == target["_id"] as? String, "\(query.stdout)")
            #expect(results.first?["title"] as? String == title)

            // Filters apply inside the search: year=2005 matches 6 of the 120 documents.
            let filtered = try cluster.coordOnDatabase([
                "query", "--index", "sci", "-k", "5", "--json", "--filter", "year=2005", title,
            ])
            #expect(filtered.status == 0, "\(filtered.stderr)")
            let filteredIds =
                ((try JSONSerialization.jsonObject(with: Data(filtered.stdout.utf8)) as! [String: Any])["results"]
                as! [[String: Any]]).map { $0["id"] as! String }
            let year2005 = Set(documents.filter { $0["year"] as? Int == 2005 }.map { $0["_id"] as! String })
            #expect(filteredIds.count == 5 && filteredIds.allSatisfy(year2005.contains), "\(filteredIds)")

            // eval: titles as queries, each judging its own document; one qrels query absent from the
            // file and one judged document absent from the index are counted, not fatal.
            let folder = try TestResources.temporaryDirectory()
            let titled = try TestResources.titleQueries(documents, count: 30)
            let queries = titled.queries
            var qrels = titled.qrels
            qrels += "q0\tnot-in-index\t2\nq-missing\t\(documents[0]["_id"]!)\t1\n"
            let queriesPath = folder.appendingPathComponent("queries.jsonl").path
            let qrelsPath = folder.appendingPathComponent("qrels.tsv").path
            try queries.write(toFile: queriesPath, atomically: true, encoding: .utf8)
            try qrels.write(toFile: qrelsPath, atomically: true, encoding: .utf8)
            let eval = try cluster.coordOnDatabase([
                "eval", "--index", "sci", "--queries", queriesPath, "--qrels", qrelsPath, "--json", "--compare-exact",
            ])
            #expect(eval.status == 0, "\(eval.stderr)")
            let metrics = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as! [String: Any]
            #expect(metrics["queries"] as? Int == 30)
            #expect(metrics["unknown_queries"] as? Int == 1)
            #expect(metrics["unknown_documents"] as? Int == 1)
            for key in ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"] {
                #expect(metrics[key] is Double, "\(key) missing")
            }
            // Titles find their documents (q0 also judges a missing document with grade 2, so it cannot be perfect).
            #expect((metrics["mrr@10"] as? Double ?? 0) > 0.9, "\(eval.stdout)")
            #expect((metrics["overlap_with_exact@10"] as? Double ?? 0) >= 0.99, "\(eval.stdout)")

            // Batch mode: one JSON line per query, each with its k results.
            let batch = try cluster.coordOnDatabase(["query", "--index", "sci", "-k", "2", "--queries", queriesPath])
            #expect(batch.status == 0, "\(batch.stderr)")
            let lines = batch.stdout.split(separator: "\n")
            #expect(lines.count == 30)
            let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
            #expect(
                first?["query"] as? String == "q0" && (first?["results"] as? [[String: Any]])?.count == 2,
                "\(lines[0])"
            )
            // Per query, and a rebuild with other HNSW parameters.
            let perQuery = try cluster.coordOnDatabase([
                "eval", "--index", "sci", "--queries", queriesPath, "--qrels", qrelsPath, "--per-query", "-k", "5",
            ])
            #expect(perQuery.status == 0 && perQuery.stdout.contains("  q7  ndcg@5 "), "\(perQuery.stdout)")
            let rebuild = try cluster.coordOnDatabase(
                ["index", "build", "--index", "sci", "--m", "8", "--ef-construction", "32"],
                models: false
            )
            #expect(
                rebuild.status == 0 && rebuild.stdout.contains("HNSW index built (m 8, ef_construction 32)"),
                "\(rebuild.stdout)\(rebuild.stderr)"
            )
            let relisted = try cluster.coordOnDatabase(["index", "list"], models: false)
            #expect(relisted.stdout.contains("HNSW m 8, ef_construction 32"), "\(relisted.stdout)")

            // Bad input, each named.
            let unknown = try cluster.coordOnDatabase(["query", "--index", "nope", "anything"])
            #expect(
                unknown.status == 1 && unknown.stderr.contains("unknown index \"nope\"; indexes: sci"),
                "\(unknown.stderr)"
            )
            let empty = try cluster.coordOnDatabase(["query", "--index", "sci", "  "])
            #expect(empty.status == 64 && empty.stderr.contains("the query is empty"), "\(empty.stderr)")
            let badFilter = try cluster.coordOnDatabase(["query", "--index", "sci", "--filter", "year", "x"])
            #expect(
                badFilter.status == 64 && badFilter.stderr.contains("filter \"year\" is not field=value"),
                "\(badFilter.stderr)"
            )
            try (qrels + "q1\tdoc\n").write(toFile: qrelsPath, atomically: true, encoding: .utf8)
            let badQrels = try cluster.coordOnDatabase([
                "eval", "--index", "sci", "--queries", queriesPath, "--qrels", qrelsPath,
            ])
            let qrelsLine = qrels.split(separator: "\n").count + 1
            #expect(
                badQrels.status == 65 && badQrels.stderr.contains("qrels.tsv:\(qrelsLine): expected 3 fields"),
                "\(badQrels.stderr)"
            )
            try (queries + "{\"_id\": \"q99\"}\n").write(toFile: queriesPath, atomically: true, encoding: .utf8)
            try qrels.write(toFile: qrelsPath, atomically: true, encoding: .utf8)
            let badQueries = try cluster.coordOnDatabase([
                "eval", "--index", "sci", "--queries", queriesPath, "--qrels", qrelsPath,
            ])
            #expect(badQueries.status == 65 && badQueries.stderr.contains("queries.jsonl:31"), "\(badQueries.stderr)")
        }
    }
}
