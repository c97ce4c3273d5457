import DriftlessTestSupport
import Embedding
import Foundation
import Testing

extension Integration {
    /// A decoder-only embedder (the tiny Qwen3 fixture: byte-level BPE, last-token pooling, an
    /// instruction in its query prompt) through the whole system: indexed by coordinator and
    /// workers at a Matryoshka dimension, queried, and as the new model of a rescore upgrade.
    /// Its weights are random, so quality means nothing: the mechanics are checked.
    @Suite("Decoder embedder end to end")
    struct DecoderEmbedderTests {
        static let decoder = "tiny-qwen3-embedding"

        @Test("indexed at a Matryoshka dimension, queried with its instruction, an upgrade target for rescore")
        func endToEnd() throws {
            let folder = TestResources.fixture(Self.decoder).path
            let cluster = try TestCluster(models: ["all-MiniLM-L6-v2": TestResources.minilm, Self.decoder: folder])
            try cluster.startCoordinator()
            try cluster.startWorker()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(60)
            let connection = try cluster.database.connect()
            let model = try EmbeddingModel(folder: folder)
            let embedder = SentenceEmbedder(model: try model.truncated(to: 32), threads: 1)

            // A cut beyond the model is refused, and no index is made.
            let tooWide = try cluster.coord([
                "submit", corpus.path, "--index", "q", "--model", Self.decoder, "--dimension", "65",
            ])
            #expect(tooWide.status != 0)
            #expect(tooWide.stderr.contains("a Matryoshka dimension must be 1 to 64"), "\(tooWide.stderr)")
            #expect(try cluster.database.scalar("SELECT count(*) FROM indexes WHERE name = 'q'") == "0")

            // Indexed by the workers at 32 dimensions: every document once, as the engine embeds it here.
            let submit = try cluster.coord([
                "submit", corpus.path, "--index", "q", "--model", Self.decoder, "--dimension", "32", "--shard-size",
                "6",
            ])
            #expect(submit.status == 0, "\(submit.stderr)")
            let table = try #require(try cluster.database.scalar("SELECT vector_table FROM indexes WHERE name = 'q'"))
            #expect(
                try cluster.database.scalar(
                    "SELECT dimension FROM models m JOIN indexes i ON i.model_id = m.id WHERE i.name = 'q'"
                )
                    == "32"
            )
            let counts = try connection.execute(
                "SELECT count(*), count(DISTINCT doc_id), max(commits), min(vector_dims(embedding)), max(vector_dims(embedding)) FROM \(table)"
            )
            #expect(counts.rows.first == ["60", "60", "1", "32", "32"], "\(counts.rows)")
            let workersUsed = try cluster.database.scalar(
                """
                SELECT count(DISTINCT s.worker) FROM shards s JOIN jobs j ON j.id = s.job_id
                JOIN indexes i ON i.id = j.index_id WHERE i.name = 'q' AND s.state = 'done'
                """
            )
            #expect(workersUsed == "2", "shards done by \(workersUsed ?? "?") workers")
            let document = documents[7]
            let id = document["_id"] as! String
            let text = "\(document["title"] as! String) \(document["text"] as! String)"
            let expectedDocument = try embedder.embed([text], prompt: model.documentPrompt)[0]
            let stored = try #require(
                try connection.execute("SELECT embedding::text FROM \(table) WHERE doc_id = $1", [id]).scalar
            )
            let storedVector = stored.dropFirst().dropLast().split(separator: ",").map { Float($0)! }
            #expect(cosine(storedVector, expectedDocument) > 0.9999, "\(cosine(storedVector, expectedDocument))")
            // Re-normalised after the cut (cosine alone would not tell).
            let norm = storedVector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-4, "the stored vector's norm is \(norm)")

            // Queried with the model's query prompt (its instruction), cut to the index's 32 dimensions.
            let query = document["title"] as! String
            let answer = try cluster.lifecycle(["query", "--index", "q", "-k", "3", "--json", "--show-vectors", query])
            #expect(answer.status == 0, "\(answer.stderr)")
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [String: Any]
            )
            let served = (object["vector"] as? [Double] ?? []).map(Float.init)
            let withInstruction = try embedder.embed([query], prompt: model.prompt(named: "query"))[0]
            let withoutInstruction = try embedder.embed([query])[0]
            #expect(served.count == 32)
            #expect(cosine(served, withInstruction) > 0.9999, "\(cosine(served, withInstruction))")
            #expect(cosine(served, withoutInstruction) < 0.999, "the instruction changes the query vector")

            // An instruction: given at query time, or recorded by the index at submission and used by its queries.
            let task = "Find the abstract that answers the claim"
            let withTask = try embedder.embed([query], prompt: model.prompt(named: "query"), task: task)[0]
            #expect(cosine(withTask, withInstruction) < 0.999, "the task changes the query vector")
            func servedVector(_ arguments: [String]) throws -> [Float] {
                let run = try cluster.lifecycle(["query", "-k", "3", "--json", "--show-vectors"] + arguments + [query])
                #expect(run.status == 0, "\(run.stderr)")
                let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
                return (object?["vector"] as? [Double] ?? []).map(Float.init)
            }
            let atQueryTime = try servedVector(["--index", "q", "--instruction", task])
            #expect(cosine(atQueryTime, withTask) > 0.9999, "\(cosine(atQueryTime, withTask))")
            let instructed = try cluster.coord([
                "submit", corpus.path, "--index", "qi", "--model", Self.decoder, "--dimension", "32", "--instruction",
                task,
            ])
            #expect(instructed.status == 0, "\(instructed.stderr)")
            #expect(try cluster.database.scalar("SELECT instruction FROM indexes WHERE name = 'qi'") == task)
            let recorded = try servedVector(["--index", "qi"])
            #expect(cosine(recorded, withTask) > 0.9999, "\(cosine(recorded, withTask))")
            // The search service's warm, shared model fills in the index's instruction too.
            let (api, base) = try cluster.startAPI()
            defer { api.signal(SIGTERM) }
            let embeddings = try HTTPExchange.send(
                "POST",
                base.appendingPathComponent("v1/embeddings"),
                body: ["driftless_index": "qi", "input": [query]]
            )
            let servedByAPI = ((embeddings.json["data"] as? [[String: Any]])?.first?["embedding"] as? [Double] ?? [])
                .map(
                    Float.init
                )
            #expect(embeddings.status == 200, "\(embeddings.text)")
            #expect(cosine(servedByAPI, withTask) > 0.9999, "\(cosine(servedByAPI, withTask))")
            let usage = (embeddings.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int
            #expect(usage == model.tokenize(query, prompt: model.prompt(named: "query"), task: task).count)
            let search = try HTTPExchange.send(
                "POST",
                base.appendingPathComponent("v1/search"),
                body: ["index": "qi", "query": query, "k": 3]
            )
            let local = try cluster.lifecycle(["query", "--index", "qi", "-k", "3", "--json", query])
            let localIds =
                (((try? JSONSerialization.jsonObject(with: Data(local.stdout.utf8))) as? [String: Any])?[
                    "results"
                ] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            let apiIds = ((search.json["results"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
            #expect(
                search.status == 200 && apiIds.count == 3 && apiIds == localIds,
                "\(search.text) against \(localIds)"
            )
            // At query time: an instruction in the request, for this request only.
            func ids(_ object: [String: Any]?) -> [String] {
                ((object?["results"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
            }
            func queriedIds(_ arguments: [String]) throws -> [String] {
                let run = try cluster.lifecycle(["query", "-k", "10", "--json", "--exact"] + arguments + [query])
                return ids(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            }
            func apiSearch(_ body: [String: Any]) throws -> HTTPExchange {
                try HTTPExchange.send("POST", base.appendingPathComponent("v1/search"), body: body)
            }
            let instructedLocal = try queriedIds(["--index", "q", "--instruction", task])
            let plainLocal = try queriedIds(["--index", "q"])
            #expect(instructedLocal.count == 10 && instructedLocal != plainLocal, "the instruction changes the ranking")
            let instructedAPI = try apiSearch([
                "index": "q", "query": query, "k": 10, "exact": true, "instruction": task,
            ])
            #expect(instructedAPI.status == 200 && ids(instructedAPI.json) == instructedLocal, "\(instructedAPI.text)")
            let plainAPI = try apiSearch(["index": "q", "query": query, "k": 10, "exact": true])
            #expect(ids(plainAPI.json) == plainLocal, "the next request without an instruction has none")
            let blank = try apiSearch(["index": "q", "query": query, "instruction": " "])
            #expect(blank.status == 422 && blank.errorField == "instruction", "\(blank.text)")
            // A model whose query prompt takes no instruction refuses one; an index keeps the one it was made with.
            let pointless = try cluster.coord([
                "submit", corpus.path, "--index", "mi", "--model", "all-MiniLM-L6-v2", "--instruction", task,
            ])
            #expect(
                pointless.status != 0 && pointless.stderr.contains("has no place for an instruction"),
                "\(pointless.stderr)"
            )
            let changed = try cluster.coord(["submit", corpus.path, "--index", "qi", "--instruction", "Another task"])
            #expect(changed.status != 0 && changed.stderr.contains("the instruction is fixed"), "\(changed.stderr)")

            // The upgrade from all-MiniLM-L6-v2 to the decoder, served by rescore: 64-d new-model vectors.
            #expect(
                try cluster.coord(["submit", corpus.path, "--index", "m", "--model", "all-MiniLM-L6-v2"]).status == 0
            )
            let upgrade = try cluster.lifecycle([
                "upgrade", "--index", "m", "--to", Self.decoder, "--mode", "rescore", "--sample", "40",
            ])
            #expect(upgrade.status == 0, "\(upgrade.stdout)\(upgrade.stderr)")
            let rescored = try cluster.lifecycle([
                "query", "--index", "m", "-k", "5", "--json", "--show-vectors", query,
            ])
            #expect(rescored.status == 0, "\(rescored.stderr)")
            let rescoredObject = try #require(
                try JSONSerialization.jsonObject(with: Data(rescored.stdout.utf8)) as? [String: Any]
            )
            #expect(rescoredObject["mode"] as? String == "rescore")
            let newVector = (rescoredObject["rescoreVector"] as? [Double] ?? []).map(Float.init)
            let fullQuery = try SentenceEmbedder(model: model, threads: 1).embed(
                [query],
                prompt: model.prompt(named: "query")
            )[0]
            #expect(newVector.count == 64 && cosine(newVector, fullQuery) > 0.9999)
            #expect(((rescoredObject["results"] as? [[String: Any]]) ?? []).count == 5)
            let successorDimension = try cluster.database.scalar(
                "SELECT m.dimension FROM indexes i JOIN models m ON m.id = i.model_id WHERE i.name = 'm@\(Self.decoder)'"
            )
            #expect(successorDimension == "64")
        }
    }
}
