import DriftlessTestSupport
import Embedding
import Foundation
import Testing

extension Integration {
    /// An index in a lower precision: its own model in the registry, dealt only to workers that run
    /// that precision, its documents and queries embedded in it.
    @Suite("Precision")
    struct PrecisionTests {
        /// int8 where this CPU's workers offer it (VNNI), else bf16: the mechanics are the same.
        static let lowered: Precision = Precision.offered([.int8]).isEmpty ? .bf16 : .int8

        @Test(
            "a lowered index (int8; bf16 without VNNI): a worker that runs only fp32 gets none of its shards; one that runs its precision embeds all, and its queries are in it"
        )
        func loweredIndex() throws {
            let lowered = Self.lowered
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            let fp32Only = try cluster.startWorker(extra: ["--precisions", "fp32"])
            #expect(fp32Only.log.contains("precisions=fp32"), "\(fp32Only.log)")
            // Nothing is dealt while only it is up; a worker that runs every precision then does it
            // all, exactly once.
            let documents = try FaultTests.refusedWorkerGetsNoShard(
                cluster,
                fp32Only,
                index: "small",
                extra: ["--precision", lowered.rawValue]
            )
            let check = IndexAssertions(database: cluster.database)

            // The registry: a model of its own, with its precision; the index is built by it.
            #expect(
                try cluster.database.scalar(
                    "SELECT m.name || ' ' || m.precision FROM indexes i JOIN models m ON m.id = i.model_id WHERE i.name = 'small'"
                ) == "all-MiniLM-L6-v2:\(lowered) \(lowered)"
            )

            // The stored vectors are the lowered model's (float32's differ from them by more).
            let int8 = SentenceEmbedder(
                model: try EmbeddingModel(folder: TestResources.minilm, precision: lowered),
                threads: 1
            )
            let fp32 = SentenceEmbedder(model: try EmbeddingModel(folder: TestResources.minilm), threads: 1)
            let document = documents[5]
            let text = "\(document["title"] as! String) \(document["text"] as! String)"
            let stored = try #require(
                try cluster.database.scalar(
                    "SELECT embedding::text FROM \(try check.vectorTable("small")) WHERE doc_id = $1",
                    [document["_id"] as? String]
                )
            ).dropFirst().dropLast().split(separator: ",").map { Float($0)! }
            let asInt8 = VectorComparison(stored, try int8.embed([text])[0]).maximumDifference
            let asFP32 = VectorComparison(stored, try fp32.embed([text])[0]).maximumDifference
            #expect(asInt8 <= 1e-5 && asFP32 > 2e-5, "stored vs \(lowered) \(asInt8), vs fp32 \(asFP32)")

            // Its queries are embedded in its precision too.
            let query = document["title"] as! String
            let answer = try cluster.lifecycle([
                "query", "--index", "small", "-k", "3", "--json", "--show-vectors", query,
            ])
            #expect(answer.status == 0, "\(answer.stderr)")
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [String: Any]
            )
            let served = (object["vector"] as? [Double] ?? []).map(Float.init)
            let queryAsInt8 = VectorComparison(served, try int8.embed([query])[0]).maximumDifference
            let queryAsFP32 = VectorComparison(served, try fp32.embed([query])[0]).maximumDifference
            #expect(
                queryAsInt8 <= 1e-5 && queryAsFP32 > 2e-5,
                "query vs \(lowered) \(queryAsInt8), vs fp32 \(queryAsFP32)"
            )

            // A precision that is none of them is refused by name.
            let bad = try cluster.coord([
                "submit", "corpus.jsonl", "--index", "bad", "--model", "all-MiniLM-L6-v2", "--precision", "fp8",
            ])
            #expect(
                bad.status != 0 && bad.stderr.contains("--precision must be fp32, bf16 or int8, not fp8"),
                "\(bad.stderr)"
            )
        }
    }
}
