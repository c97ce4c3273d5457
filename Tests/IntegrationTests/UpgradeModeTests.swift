import Compat
import DriftlessTestSupport
import Foundation
import Store
import Testing

extension Integration {
    /// Each serving mode checked by what it serves — the query vector and the scores — not only by
    /// "a title finds its document", which the old model passes natively in every mode.
    @Suite("Upgrade modes")
    struct UpgradeModeTests {
        static let successor = "all-MiniLM-L6-v2-scifact-ft"

        @Test("project, fuse and rescore serve what they claim; the successor holds new-model vectors")
        func modesToldApart() throws {
            let cluster = try TestCluster(models: [
                "all-MiniLM-L6-v2": TestResources.minilm, Self.successor: TestResources.model(Self.successor),
            ])
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(80)
            #expect(
                try cluster.coord(["submit", corpus.path, "--index", "m", "--model", "all-MiniLM-L6-v2"]).status == 0
            )
            let upgrade = { (arguments: [String]) throws -> TestResources.Run in
                try cluster.lifecycle(["upgrade", "--index", "m"] + arguments)
            }
            let document = documents[5]
            let text = "\(document["title"] as! String) \(document["text"] as! String)"
            let query = "\(document["title"] as! String)"
            /// `coord query --json --show-vectors` in the index's own mode, or in `mode`.
            func served(_ text: String, mode: String? = nil) throws -> Answer {
                let run = try cluster.lifecycle(
                    ["query", "--index", "m", "-k", "5", "--json", "--show-vectors", text]
                        + (mode.map { ["--mode", $0] } ?? [])
                )
                #expect(run.status == 0, "\(run.stderr)")
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
                )
                return Answer(
                    mode: object["mode"] as? String ?? "",
                    vector: (object["vector"] as? [Double] ?? []).map(Float.init),
                    rescoreVector: (object["rescoreVector"] as? [Double])?.map(Float.init),
                    results: (object["results"] as? [[String: Any]] ?? []).map {
                        ($0["id"] as! String, $0["score"] as! Double)
                    }
                )
            }
            let connection = try cluster.database.connect()
            /// The stored vector of `id` in `table`.
            func stored(_ table: String, _ id: String) throws -> [Float] {
                let text = try #require(
                    try connection.execute("SELECT embedding::text FROM \(table) WHERE doc_id = $1", [id]).scalar
                )
                return text.dropFirst().dropLast().split(separator: ",").map { Float($0)! }
            }

            let old = try served(query)
            #expect(old.mode == "native" && old.rescoreVector == nil)

            // project: the served vector is the stored projection applied to the new model's query vector.
            let project = try upgrade(["--to", Self.successor, "--mode", "project", "--sample", "40"])
            #expect(project.status == 0, "\(project.stdout)\(project.stderr)")
            // The new model's own query vector.
            let raw = try #require(try served(query, mode: "rescore").rescoreVector)
            let projectionId = try #require(
                try cluster.database.scalar("SELECT projection_id FROM index_serving WHERE ended_at IS NULL")
            )
            let projection = try Projection(decoding: ServingStore(connection).projection(id: Int64(projectionId)!))
            let expected = try projection.apply(raw)
            let projected = try served(query)
            #expect(projected.mode == "project")
            #expect(cosine(projected.vector, expected) > 0.9999, "\(cosine(projected.vector, expected))")
            #expect(
                cosine(projected.vector, raw) < 0.9999 && cosine(projected.vector, old.vector) < 0.9999,
                "the projection changes the query: \(cosine(projected.vector, raw)), \(cosine(projected.vector, old.vector))"
            )
            // Its scores are the served vector's cosines with the stored (old) vectors.
            for (id, score) in projected.results {
                #expect(abs(Double(cosine(projected.vector, try stored("index_vectors_1", id))) - score) < 1e-4)
            }

            // fuse: weight · projected + (1 − weight) · old, at unit length, with the weight the index stores.
            let fuse = try upgrade(["--to", Self.successor, "--mode", "fuse", "--sample", "40", "--fuse-weight", "0.3"])
            #expect(fuse.status == 0, "\(fuse.stdout)\(fuse.stderr)")
            let fusedId = try #require(
                try cluster.database.scalar("SELECT projection_id FROM index_serving WHERE ended_at IS NULL")
            )
            let fusedProjection = try Projection(decoding: ServingStore(connection).projection(id: Int64(fusedId)!))
            let blend = Projection.unitLength(
                zip(try fusedProjection.apply(raw), old.vector).map { 0.3 * $0 + 0.7 * $1 }
            )
            let fused = try served(query)
            #expect(fused.mode == "fuse")
            #expect(cosine(fused.vector, blend) > 0.9999, "\(cosine(fused.vector, blend))")
            #expect(cosine(fused.vector, try fusedProjection.apply(raw)) < 0.9999)

            // rescore: candidates from the old vectors, scored by the new query against new-model vectors.
            #expect(try upgrade(["--to", Self.successor, "--mode", "rescore", "--rescore-depth", "5"]).status == 0)
            let rescored = try served(query)
            #expect(rescored.mode == "rescore")
            let newQuery = try #require(rescored.rescoreVector)
            #expect(cosine(newQuery, raw) > 0.9999)
            for (id, score) in rescored.results {
                let successorVector = try stored("index_vectors_2", id)
                #expect(abs(Double(cosine(newQuery, successorVector)) - score) < 1e-4, "\(id)")
            }
            #expect(rescored.results.map(\.score) == rescored.results.map(\.score).sorted(by: >))

            // The successor holds the new model's vectors: a document's text embedded by the new model is its vector.
            let own = try #require(try served(text, mode: "rescore").rescoreVector)
            let id = document["_id"] as! String
            #expect(try connection.execute("SELECT 1 FROM index_vectors_2 WHERE doc_id = $1", [id]).count == 1)
            #expect(cosine(own, try stored("index_vectors_2", id)) > 0.9999)
            #expect(cosine(try stored("index_vectors_1", id), try stored("index_vectors_2", id)) < 0.9999)
        }

        struct Answer {
            var mode: String
            var vector: [Float]
            var rescoreVector: [Float]?
            var results: [(id: String, score: Double)]
        }
    }
}
