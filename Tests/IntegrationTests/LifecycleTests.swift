import DriftlessTestSupport
import Foundation
import Testing

extension Integration {
    /// An index through two upgrades while it keeps taking updates: after every step, the latest
    /// version of every document is found by its own text and no deleted document is returned.
    @Suite("Lifecycle")
    struct LifecycleTests {
        static let v1 = "all-MiniLM-L6-v2"
        static let v2 = "all-MiniLM-L6-v2-scifact-ft"
        static let v3 = "all-mpnet-base-v2"

        @Test(
            "v1 → project v2 → changes while re-indexing → promote → gc → changes → fuse v3 → re-index → promote; a query loop never fails"
        )
        func lifecycle() throws {
            let life = try Lifecycle()
            defer { life.stopQueryLoop() }
            try life.cluster.startCoordinator()
            try life.cluster.startWorker()
            // 1. The index, by v1.
            try life.submit(life.initial, model: Self.v1)
            try life.check("indexed by v1", mode: "native", model: Self.v1)
            try life.startQueryLoop()

            // 2. Served by v2 through a projection onto the v1 vectors.
            try life.expectSuccess(
                life.onDatabase(["upgrade", "--to", Self.v2, "--mode", "project", "--sample", "60"])
            )
            try life.check("upgraded to v2 (project)", mode: "project", model: Self.v2)

            // 3. Re-index in the background; meanwhile new, changed and deleted documents.
            let reindex = try life.onDatabase(["reindex", "--to", Self.v2, "--detach"])
            try life.expectSuccess(reindex)
            try life.submit(life.newDocuments(10) + life.changedDocuments(10), model: nil, wait: false)
            try life.delete(8)
            try life.quiet()
            try life.check("re-indexed with changes", mode: "project", model: Self.v2)

            // 4. Promote: the successor must hold every document's current version.
            try life.expectSuccess(life.onDatabase(["promote"]))
            try life.check("promoted to v2", mode: "promoted", model: Self.v2)
            try life.submit(life.changedDocuments(3), model: nil)
            try life.check("changed after promotion", mode: "promoted", model: Self.v2)

            // 5. gc: v2 is the index's own model now.
            try life.quiet()
            try life.expectSuccess(life.onDatabase(["gc"]))
            try life.check("after gc", mode: "native", model: Self.v2)
            #expect(
                try life.cluster.database.scalar(
                    "SELECT m.name FROM indexes i JOIN models m ON m.id = i.model_id WHERE i.name = 'life'"
                ) == Self.v2
            )

            // 6. More changes, without --model (the serving generation's); a wrong --model is refused, naming it.
            try life.submit(life.newDocuments(5) + life.changedDocuments(5), model: nil)
            try life.delete(4)
            let wrong = try life.cluster.coord([
                "submit", life.initialFile.path, "--index", "life", "--model", Self.v1,
            ])
            #expect(
                wrong.status != 0 && wrong.stderr.contains("takes documents embedded by \(Self.v2)"),
                "\(wrong.stderr)"
            )
            try life.check("changed after gc", mode: "native", model: Self.v2)

            // 7. The next upgrade works like the first: fuse v3 (768-d queries) onto the v2 vectors.
            try life.expectSuccess(life.onDatabase(["upgrade", "--to", Self.v3, "--mode", "fuse", "--sample", "40"]))
            try life.check("upgraded to v3 (fuse)", mode: "fuse", model: Self.v3)
            try life.submit(life.changedDocuments(3), model: nil)
            try life.expectSuccess(life.onDatabase(["reindex", "--to", Self.v3]))
            try life.quiet()
            try life.expectSuccess(life.onDatabase(["promote"]))
            try life.check("promoted to v3", mode: "promoted", model: Self.v3)

            let loop = life.stopQueryLoop()
            #expect(loop.runs >= 5, "the query loop ran \(loop.runs) times")
            #expect(loop.failures.isEmpty, "queries failed during the lifecycle:\n\(loop.failures)")
        }
    }
}

/// The lifecycle test's state: the documents as they should be now, and the commands it runs.
final class Lifecycle {
    let cluster: TestCluster
    let folder: URL
    /// id → (title, text) of every live document, as last submitted.
    var live: [String: (title: String, text: String)] = [:]
    /// id → the text a deleted document had.
    var deleted: [String: String] = [:]
    /// SciFact documents not in the index, taken in turn for new documents and for changed texts.
    var pool: [[String: Any]]
    let initial: [[String: Any]]
    let initialFile: URL
    private var submissions = 0
    private var loop: ManagedProcess?

    init() throws {
        cluster = try TestCluster(models: [
            Integration.LifecycleTests.v1: TestResources.minilm,
            Integration.LifecycleTests.v2: TestResources.model(Integration.LifecycleTests.v2),
            Integration.LifecycleTests.v3: TestResources.model(Integration.LifecycleTests.v3),
        ])
        folder = try TestResources.temporaryDirectory()
        (initialFile, initial) = try TestResources.scifactSubset(150)
        pool = try TestResources.scifactSubset(60, from: 150).documents
    }

    /// `count` documents new to the index.
    func newDocuments(_ count: Int) -> [[String: Any]] {
        let taken = Array(pool.prefix(count))
        pool.removeFirst(count)
        return taken
    }

    /// `count` live documents (the first ones by id) with another document's title and text.
    func changedDocuments(_ count: Int) -> [[String: Any]] {
        let ids = live.keys.sorted().prefix(count)
        return ids.map { id in
            var document = pool.removeFirst()
            document["_id"] = id
            return document
        }
    }

    /// Submits documents to index `life` (with `--model` only when given); waits for its job.
    func submit(_ documents: [[String: Any]], model: String?, wait: Bool = true) throws {
        submissions += 1
        let file = folder.appendingPathComponent("submission-\(submissions).jsonl")
        let lines = try documents.map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        let run = try cluster.coord(
            ["submit", file.path, "--index", "life", "--shard-size", "16"] + (model.map { ["--model", $0] } ?? [])
                + (wait ? [] : ["--detach"])
        )
        expectSuccess(run)
        for document in documents {
            let id = document["_id"] as! String
            live[id] = (document["title"] as? String ?? "", document["text"] as! String)
            deleted.removeValue(forKey: id)
        }
    }

    /// Deletes `count` live documents (the last ones by id).
    func delete(_ count: Int) throws {
        let ids = Array(live.keys.sorted().suffix(count))
        let file = folder.appendingPathComponent("delete-\(deleted.count).txt")
        try Data((ids.joined(separator: "\n") + "\n").utf8).write(to: file)
        let run = try onDatabase(["delete", "--ids", file.path])
        expectSuccess(run)
        // Documents of a job not yet committed count as absent, and are kept out all the same.
        #expect(run.stdout.contains("life: deleted "), "\(run.stdout)")
        for id in ids {
            if let document = live.removeValue(forKey: id) { deleted[id] = Self.query(document.title, document.text) }
        }
    }

    /// A `coord` command on index `life` with the database, the coordinator and the models.
    func onDatabase(_ arguments: [String]) throws -> TestResources.Run {
        try cluster.lifecycle([arguments[0], "--index", "life"] + arguments.dropFirst())
    }

    func expectSuccess(_ run: TestResources.Run, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)\n\(cluster.logs)", sourceLocation: sourceLocation)
    }

    /// Waits until no job is open (submissions and their follow-ups for the other generation).
    func quiet(seconds: Double = 600) throws {
        let settled = try eventually(seconds, poll: 0.5) {
            try cluster.database.count("SELECT count(*) FROM jobs WHERE state IN ('receiving', 'running', 'indexing')")
                == 0
        }
        #expect(settled, "jobs still open after \(seconds) s:\n\(cluster.logs)")
        let failed = try cluster.database.connect().execute(
            "SELECT id, error FROM jobs WHERE state = 'failed' ORDER BY id"
        )
        #expect(failed.rows.isEmpty, "failed jobs: \(failed.rows)")
    }

    /// Every live document's own text (title and text, as it is embedded) finds it in the top 3, and no
    /// deleted document is returned for its old text; the queries are served by `model` in `mode`.
    func check(
        _ step: String,
        mode: String,
        model: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try quiet()
        var queries = ""
        for (id, document) in live.sorted(by: { $0.key < $1.key }) {
            queries += try line(["_id": "live:\(id)", "text": Self.query(document.title, document.text)])
        }
        for (id, text) in deleted.sorted(by: { $0.key < $1.key }) {
            queries += try line(["_id": "gone:\(id)", "text": text])
        }
        let file = folder.appendingPathComponent("queries.jsonl")
        try Data(queries.utf8).write(to: file)
        let run = try onDatabase(["query", "--queries", file.path, "-k", "3", "--threads", "2"])
        #expect(run.status == 0, "\(step): \(run.stderr)", sourceLocation: sourceLocation)
        var missed: [String] = []
        var returned: [String] = []
        var served: Set<String> = []
        for answerLine in run.stdout.split(separator: "\n") {
            let answer = try #require(
                try JSONSerialization.jsonObject(with: Data(answerLine.utf8)) as? [String: Any]
            )
            served.insert("\(answer["mode"] ?? "?") \(answer["model"] ?? "?")")
            let query = answer["query"] as! String
            let ids = (answer["results"] as! [[String: Any]]).map { $0["id"] as! String }
            if query.hasPrefix("live:"), !ids.contains(String(query.dropFirst(5))) { missed.append(query) }
            for id in ids where deleted[id] != nil { returned.append("\(id) for \(query)") }
        }
        #expect(
            run.stdout.split(separator: "\n").count == live.count + deleted.count,
            "\(step): answers",
            sourceLocation: sourceLocation
        )
        #expect(
            missed.isEmpty,
            "\(step): not in the top 3 for their own text: \(missed)",
            sourceLocation: sourceLocation
        )
        #expect(returned.isEmpty, "\(step): deleted documents returned: \(returned)", sourceLocation: sourceLocation)
        #expect(served == ["\(mode) \(model)"], "\(step): served \(served)", sourceLocation: sourceLocation)
    }

    /// A document's own text as a query: its title and the start of its text (short, so that the
    /// 768-d model embeds a check's queries in seconds, not minutes).
    static func query(_ title: String, _ text: String) -> String { "\(title) \(text.prefix(300))" }

    private func line(_ object: [String: String]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            + "\n"
    }

    /// A shell loop running `coord query` until stopped; each failure is appended to a file.
    func startQueryLoop() throws {
        let script = """
            while [ ! -e "$1/stop" ]; do
                if "$2" query --index life -k 3 --database "$3" --models "$4" "vitamin D and bone density" \
                    > /dev/null 2> "$1/last.err"; then echo ok >> "$1/runs"
                else { echo "--- exit $?"; cat "$1/last.err"; } >> "$1/failures"; fi
                sleep 0.5
            done
            """
        loop = try ManagedProcess(
            name: "query-loop",
            executable: URL(fileURLWithPath: "/bin/bash"),
            arguments: [
                "-c", script, "loop", folder.path, TestResources.coordExecutable.path, cluster.database.url,
                cluster.modelsFolder.path,
            ]
        )
    }

    /// Stops the loop; what it saw.
    @discardableResult
    func stopQueryLoop() -> (runs: Int, failures: String) {
        FileManager.default.createFile(atPath: folder.appendingPathComponent("stop").path, contents: nil)
        if let loop, loop.wait(seconds: 30) == nil { loop.signal(SIGKILL) }
        loop = nil
        let runs = (try? String(contentsOf: folder.appendingPathComponent("runs"), encoding: .utf8)) ?? ""
        let failures = (try? String(contentsOf: folder.appendingPathComponent("failures"), encoding: .utf8)) ?? ""
        return (runs.split(separator: "\n").count, failures)
    }
}
