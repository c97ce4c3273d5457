import DriftlessTestSupport
import Foundation
import Testing

extension Integration {
    /// `coord submit --mirror`: the file is the whole index.
    @Suite("Mirror")
    struct MirrorTests {
        typealias Defects = LifecycleDefectTests

        @Test("documents the file lacks are deleted from every generation; changed and new ones are indexed")
        func mirror() throws {
            let (cluster, documents) = try Defects.indexed(30)
            // The successor is live (rescore serves from it) and holds every document.
            #expect(try Defects.run(cluster, ["upgrade", "--to", Defects.v2, "--mode", "rescore"]).status == 0)
            #expect(try Defects.run(cluster, ["reindex", "--to", Defects.v2]).status == 0)
            let tables = try ["sci", "sci@%"].map {
                try #require(try cluster.database.scalar("SELECT vector_table FROM indexes WHERE name LIKE $1", [$0]))
            }
            for table in tables { #expect(try cluster.database.count("SELECT count(*) FROM \(table)") == 30) }

            var kept = Array(documents.prefix(20))
            var changed = try TestResources.scifactSubset(1, from: 300).documents[0]
            changed["_id"] = kept[3]["_id"]
            kept[3] = changed
            let added = try TestResources.scifactSubset(2, from: 400).documents
            let file = try Defects.corpus(kept + added)
            let run = try cluster.coord(["submit", file.path, "--index", "sci", "--mirror"])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("10 documents the file lacks deleted (--mirror)"), "\(run.stderr)")

            let gone = documents[20...].map { $0["_id"] as! String }
            for table in tables {
                #expect(try cluster.database.count("SELECT count(*) FROM \(table)") == 22, "\(table)")
                #expect(
                    try cluster.database.count(
                        "SELECT count(*) FROM \(table) WHERE doc_id = ANY($1::text[])",
                        ["{\(gone.joined(separator: ","))}"]
                    ) == 0
                )
            }
            #expect(
                try cluster.database.count("SELECT count(*) FROM documents WHERE deleted") == 20,
                "10 per generation"
            )
            for document in documents[20...] {
                let found = try Defects.top(cluster, document["title"] as! String, k: 10)
                #expect(!found.contains(document["_id"] as! String), "a deleted document is returned")
            }
            for document in [changed] + added {
                let text = "\(document["title"]!) \(document["text"]!)"
                #expect(try Defects.top(cluster, text).first == document["_id"] as? String)
            }
            // A rejected line without an id: which document it meant is unknown, so nothing is deleted.
            let broken = try Defects.corpus(Array(kept.prefix(5)))
            let handle = try FileHandle(forWritingTo: broken)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("{\"text\": \"no id\"}\n".utf8))
            try handle.close()
            let careful = try cluster.coord(["submit", broken.path, "--index", "sci", "--mirror", "--skip-invalid"])
            #expect(careful.status == 0, "\(careful.stderr)")
            #expect(careful.stderr.contains("--mirror deleted nothing"), "\(careful.stderr)")
            for table in tables { #expect(try cluster.database.count("SELECT count(*) FROM \(table)") == 22) }
        }
    }
}
