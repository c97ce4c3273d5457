import DriftlessTestSupport
import Foundation
import SearchService
import Testing

extension Integration {
    /// `coord api` over real HTTP: a real coordinator and worker, real PostgreSQL, real models.
    @Suite("Search service")
    struct SearchServiceTests {
        static let successor = "all-MiniLM-L6-v2-scifact-ft"

        /// Every endpoint's success path and its bad input, with the status and the error code a
        /// program can rely on; each reply checked against the OpenAPI document.
        @Test("every endpoint answers as documented, bad input gets its status and code")
        func endpoints() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(60)
            #expect(
                try cluster.coord(["submit", corpus.path, "--index", "s", "--model", "all-MiniLM-L6-v2"]).status == 0
            )
            let tokens = try TestResources.temporaryDirectory().appendingPathComponent("tokens").path
            let reader = try makeToken(tokens, "reader", role: "read")
            let admin = try makeToken(tokens, "operator", role: "admin")
            let spare = try makeToken(tokens, "spare", role: "read")
            let (api, base) = try cluster.startAPI([
                "--tokens", tokens, "--max-body-bytes", "4096", "--max-queries", "4",
            ])
            defer { api.signal(SIGTERM) }
            let spec = try OpenAPIDocument()
            func call(
                _ method: String,
                _ path: String,
                _ body: Any? = nil,
                token: String? = reader
            ) throws -> HTTPExchange {
                let reply = try HTTPExchange.send(method, base.appendingPathComponent(path), body: body, token: token)
                spec.check(reply, method: method, path: path)
                return reply
            }

            // Open to anyone: the process is up; ready once the models are warm.
            #expect(try call("GET", "healthz", token: nil).status == 200)
            #expect(try eventually(60) { try call("GET", "readyz", token: nil).status == 200 })
            #expect(try call("GET", "readyz", token: nil).json["models"] as? [String] == ["all-MiniLM-L6-v2"])
            #expect(try call("GET", "", token: nil).text.contains("<title>Driftless</title>"))

            // Tokens: none, unknown, revoked (no restart), and read-only where admin is needed.
            let query = ["index": "s", "query": documents[3]["title"] as! String, "k": 5] as [String: Any]
            #expect(try call("POST", "v1/search", query, token: nil).errorCode == "unauthorized")
            #expect(try call("POST", "v1/search", query, token: "dlx_not-a-token").status == 401)
            #expect(try call("POST", "v1/search", query, token: spare).status == 200)
            #expect(
                try TestResources.run(TestResources.coordExecutable, ["tokens", "revoke", "spare", "--tokens", tokens])
                    .status == 0
            )
            #expect(try eventually(5) { try call("POST", "v1/search", query, token: spare).status == 401 })
            let forbidden = try call("POST", "v1/jobs/1/cancel", token: reader)
            #expect(forbidden.status == 403 && forbidden.errorCode == "forbidden")
            #expect(try call("GET", "metrics", token: nil).status == 401)

            // Search: the same as `coord query`, with metadata; several queries in one request.
            let found = try call("POST", "v1/search", query)
            #expect(found.status == 200)
            let hits = found.json["results"] as? [[String: Any]] ?? []
            let local = try cluster.lifecycle(["query", "--index", "s", "-k", "5", "--json", query["query"] as! String])
            let expected =
                (try JSONSerialization.jsonObject(with: Data(local.stdout.utf8)) as? [String: Any])?["results"]
                as? [[String: Any]] ?? []
            #expect(hits.map { $0["id"] as! String } == expected.map { $0["id"] as! String })
            #expect(zip(hits, expected).allSatisfy { abs(($0["score"] as! Double) - ($1["score"] as! Double)) < 1e-6 })
            #expect(hits.first?["id"] as? String == documents[3]["_id"] as? String)
            #expect((hits.first?["metadata"] as? [String: Any])?["year"] as? Int == 2003)
            #expect(found.json["mode"] as? String == "native" && found.json["model"] as? String == "all-MiniLM-L6-v2")
            let batch = try call(
                "POST",
                "v1/search",
                ["index": "s", "queries": [query["query"]!, "cell membranes"], "k": 5]
            )
            let answers = batch.json["queries"] as? [[String: Any]] ?? []
            #expect(answers.count == 2)
            #expect(
                ((answers.first?["results"] as? [[String: Any]]) ?? []).map { $0["id"] as! String }
                    == hits.map { $0["id"] as! String }
            )

            // `coord query --api` asks the service and prints what the local query prints.
            let remote = try TestResources.run(
                TestResources.coordExecutable,
                [
                    "query", "--api", base.absoluteString, "--index", "s", "-k", "5", "--json",
                    query["query"] as! String,
                ],
                environment: ["DRIFTLESS_API_TOKEN": reader]
            )
            #expect(remote.status == 0, "\(remote.stderr)")
            let remoteResults =
                (try? JSONSerialization.jsonObject(with: Data(remote.stdout.utf8)) as? [String: Any])?[
                    "results"
                ] as? [[String: Any]] ?? []
            #expect(remoteResults.map { $0["id"] as! String } == expected.map { $0["id"] as! String })

            // A metadata filter: only documents whose year is 2005, nested fields by dotted names.
            let filtered = try call(
                "POST",
                "v1/search",
                ["index": "s", "query": "cells", "k": 10, "filter": ["year": 2005]]
            )
            let years = (filtered.json["results"] as? [[String: Any]] ?? []).map {
                ($0["metadata"] as? [String: Any])?["year"] as? Int
            }
            #expect(!years.isEmpty && years.allSatisfy { $0 == 2005 }, "\(filtered.text)")
            let nested = try call(
                "POST",
                "v1/search",
                ["index": "s", "query": "cells", "k": 10, "filter": ["source.line": 8]]
            )
            #expect(
                (nested.json["results"] as? [[String: Any]] ?? []).map { $0["id"] as! String } == [
                    documents[7]["_id"] as! String
                ]
            )

            // Bad input: each with its status, code and field.
            func refused(
                _ body: Any,
                _ status: Int,
                _ code: String,
                field: String? = nil,
                path: String = "v1/search"
            ) throws {
                let reply = try call("POST", path, body)
                #expect(reply.status == status && reply.errorCode == code, "\(body): \(reply.status) \(reply.text)")
                if let field { #expect(reply.errorField == field, "\(body): \(reply.text)") }
            }
            try refused("{\"index\": \"s\", \"query\": ", 400, "malformed_json")
            try refused("[1, 2]", 400, "malformed_json")
            try refused(["index": "nope", "query": "x"], 404, "unknown_index", field: "index")
            try refused(["index": "s", "query": "x", "k": 0], 422, "invalid_field", field: "k")
            try refused(["index": "s", "query": "x", "k": 1001], 422, "invalid_field", field: "k")
            try refused(["index": "s", "query": "x", "k": "ten"], 422, "invalid_field", field: "k")
            try refused(["index": "s"], 422, "invalid_field", field: "query")
            try refused(["query": "x"], 422, "invalid_field", field: "index")
            try refused(["index": "s", "query": "  "], 422, "invalid_field", field: "query")
            try refused(["index": "s", "query": "x", "queries": ["y"]], 422, "invalid_field", field: "queries")
            try refused(["index": "s", "queries": ["a", "b", "c", "d", "e"]], 413, "too_large", field: "queries")
            try refused(["index": "s", "query": "x", "filter": ["year": [1]]], 422, "invalid_field", field: "filter")
            try refused(["index": "s", "query": String(repeating: "long ", count: 1000)], 413, "too_large")
            try refused(["index": "s", "query": "x", "ef_search": 0], 422, "invalid_field", field: "ef_search")
            #expect(try call("GET", "v1/nothing").errorCode == "not_found")
            #expect(try call("GET", "v1/search").status == 405)

            // Embeddings, OpenAI's shape: in order, unit length, the same alone as in a batch; base64 too.
            let one = try call("POST", "v1/embeddings", ["model": "all-MiniLM-L6-v2", "input": "cell membranes"])
            #expect(one.status == 200 && one.json["object"] as? String == "list")
            let single = vectors(one)
            #expect(single.count == 1 && single[0].count == 384)
            #expect(abs(norm(single[0]) - 1) < 1e-4)
            let many = try call(
                "POST",
                "v1/embeddings",
                ["model": "all-MiniLM-L6-v2", "input": ["a cat", "cell membranes", "the sun"]]
            )
            let three = vectors(many)
            #expect(three.count == 3 && cosine(three[1], single[0]) > 0.99999)
            #expect(((many.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int ?? 0) >= 3 + 6)
            let packed = try call(
                "POST",
                "v1/embeddings",
                ["model": "all-MiniLM-L6-v2", "input": "cell membranes", "encoding_format": "base64"]
            )
            let text = try #require(((packed.json["data"] as? [[String: Any]])?.first?["embedding"]) as? String)
            let bytes = try #require(Data(base64Encoded: text))
            let decoded = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            #expect(decoded == single[0])
            // As the index serves queries: the index's model with its query prompt (native here).
            let served = try call("POST", "v1/embeddings", ["driftless_index": "s", "input": "cell membranes"])
            #expect(served.status == 200 && cosine(vectors(served)[0], single[0]) > 0.99999)
            try refused(
                ["model": "no-such-model", "input": "x"],
                404,
                "unknown_model",
                field: "model",
                path: "v1/embeddings"
            )
            try refused(["input": "x"], 422, "invalid_field", field: "model", path: "v1/embeddings")
            try refused(
                ["model": "all-MiniLM-L6-v2", "input": [1, 2]],
                422,
                "invalid_field",
                field: "input",
                path: "v1/embeddings"
            )
            try refused(
                ["model": "all-MiniLM-L6-v2", "input": ""],
                422,
                "invalid_field",
                field: "input",
                path: "v1/embeddings"
            )
            try refused(
                ["model": "all-MiniLM-L6-v2", "input": "x", "prompt_name": "nope"],
                422,
                "invalid_field",
                field: "prompt_name",
                path: "v1/embeddings"
            )
            try refused(["driftless_index": "nope", "input": "x"], 404, "unknown_index", path: "v1/embeddings")

            // Indexes, jobs, workers, metrics.
            let indexes = try call("GET", "v1/indexes")
            let index = (indexes.json["indexes"] as? [[String: Any]])?.first { $0["name"] as? String == "s" }
            #expect(index?["vectors"] as? Int == 60)
            #expect((index?["serving"] as? [String: Any])?["mode"] as? String == "native")
            #expect(try call("GET", "v1/indexes/s").json["dimension"] as? Int == 384)
            #expect(try call("GET", "v1/indexes/nope").errorCode == "unknown_index")
            let jobs = try call("GET", "v1/jobs").json["jobs"] as? [[String: Any]] ?? []
            #expect(
                jobs.contains {
                    $0["index"] as? String == "s" && $0["state"] as? String == "done" && $0["doneDocs"] as? Int == 60
                }
            )
            #expect((try call("GET", "v1/workers").json["workers"] as? [[String: Any]] ?? []).count == 1)
            #expect(try call("POST", "v1/jobs/999/cancel", token: admin).errorCode == "unknown_job")
            let finished = try #require(jobs.first?["id"] as? Int)
            #expect(try call("POST", "v1/jobs/\(finished)/cancel", token: admin).errorCode == "cannot_cancel")
            let metrics = try call("GET", "metrics", token: admin).text
            #expect(
                metrics.contains("driftless_api_requests_total{route=\"/v1/search\",method=\"POST\",status=\"200\"}")
            )
            #expect(metrics.contains("driftless_api_request_duration_seconds_bucket{route=\"/v1/embeddings\""))

            // The routes the service has are the routes the OpenAPI document lists.
            #expect(spec.routes == Set(Routes.all.map { "\($0.method) \($0.path)" }))
            #expect(spec.problems.isEmpty, "\(spec.problems.joined(separator: "\n"))")
        }

        /// Results through the service equal `coord query`'s in every serving mode, and the
        /// embeddings of `driftless_index` are the vectors the index searches with.
        @Test("search and driftless_index embeddings equal coord query in every serving mode")
        func servingModes() throws {
            let cluster = try TestCluster(models: [
                "all-MiniLM-L6-v2": TestResources.minilm, Self.successor: TestResources.model(Self.successor),
            ])
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, documents) = try TestResources.scifactSubset(80)
            #expect(
                try cluster.coord(["submit", corpus.path, "--index", "m", "--model", "all-MiniLM-L6-v2"]).status == 0
            )
            let (api, base) = try cluster.startAPI()
            defer { api.signal(SIGTERM) }
            let queries = [
                documents[5]["title"] as! String, "immune response to infection", documents[40]["title"] as! String,
            ]

            func compare(_ mode: String) throws {
                // The service reads serving states afresh within 2 s.
                #expect(
                    try eventually(10) {
                        try HTTPExchange.send("GET", base.appendingPathComponent("v1/indexes/m")).json["serving"]
                            .flatMap { ($0 as? [String: Any])?["mode"] as? String } == mode
                    }
                )
                Thread.sleep(forTimeInterval: 2.5)
                for text in queries {
                    let local = try cluster.lifecycle([
                        "query", "--index", "m", "-k", "8", "--json", "--show-vectors", text,
                    ])
                    #expect(local.status == 0, "\(local.stderr)")
                    let expected = try #require(
                        try JSONSerialization.jsonObject(with: Data(local.stdout.utf8)) as? [String: Any]
                    )
                    let reply = try HTTPExchange.send(
                        "POST",
                        base.appendingPathComponent("v1/search"),
                        body: ["index": "m", "query": text, "k": 8]
                    )
                    #expect(reply.status == 200, "\(reply.text)")
                    #expect(reply.json["mode"] as? String == mode && expected["mode"] as? String == mode)
                    let got = reply.json["results"] as? [[String: Any]] ?? []
                    let want = expected["results"] as? [[String: Any]] ?? []
                    #expect(got.map { $0["id"] as! String } == want.map { $0["id"] as! String }, "\(mode): \(text)")
                    for (a, b) in zip(got, want) {
                        #expect(abs((a["score"] as! Double) - (b["score"] as! Double)) < 1e-4, "\(mode): \(a["id"]!)")
                        #expect(a["title"] as? String == b["title"] as? String)
                    }
                    let embedded = try HTTPExchange.send(
                        "POST",
                        base.appendingPathComponent("v1/embeddings"),
                        body: ["driftless_index": "m", "input": text]
                    )
                    let vector = vectors(embedded).first ?? []
                    let searched = (expected["vector"] as? [Double] ?? []).map(Float.init)
                    #expect(cosine(vector, searched) > 0.99999, "\(mode): the served query vector")
                }
            }

            try compare("native")
            let upgrade = { (arguments: [String]) throws in
                let run = try cluster.lifecycle(["upgrade", "--index", "m", "--to", Self.successor] + arguments)
                #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            }
            try upgrade(["--mode", "project", "--sample", "40"])
            try compare("project")
            try upgrade(["--mode", "fuse", "--sample", "40", "--fuse-weight", "0.3"])
            try compare("fuse")
            try upgrade(["--mode", "rescore", "--rescore-depth", "10"])
            // A query no one asked before: its candidates lacking new-model vectors are embedded
            // by the workers (an urgent job through the coordinator), not by the service.
            #expect(
                try eventually(10) {
                    try HTTPExchange.send("GET", base.appendingPathComponent("v1/indexes/m")).json["serving"]
                        .flatMap { ($0 as? [String: Any])?["mode"] as? String } == "rescore"
                }
            )
            Thread.sleep(forTimeInterval: 2.5)
            let count = { (sql: String) throws -> Int in Int(try cluster.database.scalar(sql) ?? "") ?? -1 }
            let (jobs, stored) = (
                try count("SELECT count(*) FROM jobs"), try count("SELECT count(*) FROM index_vectors_2")
            )
            let fresh = try HTTPExchange.send(
                "POST",
                base.appendingPathComponent("v1/search"),
                body: ["index": "m", "query": "antibiotic resistance in hospital bacteria", "k": 8]
            )
            #expect(fresh.status == 200 && fresh.json["mode"] as? String == "rescore", "\(fresh.text)")
            #expect(try count("SELECT count(*) FROM jobs") > jobs, "no on-demand job for the workers")
            #expect(try count("SELECT count(*) FROM index_vectors_2") > stored)
            try compare("rescore")
            let reindex = try cluster.lifecycle(["reindex", "--index", "m", "--to", Self.successor])
            #expect(reindex.status == 0, "\(reindex.stderr)")
            let promote = try cluster.lifecycle(["promote", "--index", "m"])
            #expect(promote.status == 0, "\(promote.stdout)\(promote.stderr)")
            try compare("promoted")
        }

        /// SIGTERM while searches run: they finish with 200, a new request gets 503
        /// `shutting_down`, and the process exits 0.
        @Test("SIGTERM under load: requests in flight finish, new ones get 503, exit 0")
        func drainsOnSigterm() throws {
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            try cluster.startWorker()
            let (corpus, _) = try TestResources.scifactSubset(40)
            #expect(
                try cluster.coord(["submit", corpus.path, "--index", "d", "--model", "all-MiniLM-L6-v2"]).status == 0
            )
            let (api, base) = try cluster.startAPI(["--connections", "1", "--max-batch", "1"])
            #expect(
                try eventually(60) { try HTTPExchange.send("GET", base.appendingPathComponent("readyz")).status == 200 }
            )
            // Long requests: 64 long queries each, embedded one at a time, one search at a time.
            let texts = (0..<64).map {
                "query \($0): "
                    + String(repeating: "cells, proteins and the immune system in chronic infection; ", count: 12)
            }
            let statuses = Statuses()
            let group = DispatchGroup()
            for _ in 0..<3 {
                // A thread each: Dispatch's global queue runs only as many blocking items as there are cores.
                group.enter()
                Thread {
                    let reply = try? HTTPExchange.send(
                        "POST",
                        base.appendingPathComponent("v1/search"),
                        body: ["index": "d", "queries": texts, "k": 10, "exact": true]
                    )
                    statuses.add(reply?.status ?? -1)
                    group.leave()
                }.start()
            }
            // All three in flight (the scrape counts itself), then SIGTERM.
            #expect(
                try eventually(20, poll: 0.05) {
                    let page = try HTTPExchange.send("GET", base.appendingPathComponent("metrics")).text
                    let line = page.split(separator: "\n").first { $0.hasPrefix("driftless_api_requests_in_flight ") }
                    return (line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0) >= 4
                }
            )
            api.signal(SIGTERM)
            #expect(api.waitForLog("draining", seconds: 5))
            let late = try HTTPExchange.send(
                "POST",
                base.appendingPathComponent("v1/search"),
                body: ["index": "d", "query": "x"]
            )
            #expect(late.status == 503 && late.errorCode == "shutting_down", "\(late.status) \(late.text)")
            group.wait()
            #expect(statuses.all == [200, 200, 200], "\(api.log)")
            #expect(api.wait(seconds: 30) == 0, "\(api.log)")
        }

        /// The status page in a real browser (Debian's headless Chromium) during a running job:
        /// the job with its progress, both workers and the index are in the rendered page, and
        /// progress advances between two loads. The screenshot is kept in var/test-artefacts/.
        @Test("the status page shows a running job, both workers and the index in Chromium")
        func statusPage() throws {
            let chromium = try #require(
                ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
                    FileManager.default.isExecutableFile(atPath: $0)
                },
                "chromium is not installed (Ops/install-system.sh installs it)"
            )
            let cluster = try TestCluster()
            try cluster.startCoordinator()
            try cluster.startWorker()
            try cluster.startWorker()
            let (api, base) = try cluster.startAPI()
            defer { api.signal(SIGTERM) }
            let (corpus, _) = try TestResources.scifactSubset(800)
            let job = try #require(try cluster.submitDetached(corpus, index: "page", shardSize: 4))
            #expect(
                try eventually(60) {
                    Int(
                        try cluster.database.scalar(
                            "SELECT count(*) FROM shards WHERE job_id = $1 AND state = 'done'",
                            [String(job)]
                        ) ?? "0"
                    ) ?? 0 >= 2
                }
            )
            func render() throws -> String {
                let run = try TestResources.run(
                    URL(fileURLWithPath: chromium),
                    [
                        "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=4000", "--dump-dom",
                        base.absoluteString,
                    ]
                )
                #expect(run.status == 0, "\(run.stderr)")
                return run.stdout
            }
            func progress(_ dom: String) -> Int? {
                guard let row = dom.range(of: "data-job=\"\(job)\"") else { return nil }
                guard let cell = dom[row.upperBound...].range(of: "data-done=\"") else { return nil }
                return Int(dom[cell.upperBound...].prefix { $0.isNumber })
            }
            let first = try render()
            #expect(first.contains("data-job=\"\(job)\""), "\(first)")
            #expect(first.components(separatedBy: "data-worker=").count - 1 == 2, "both workers: \(first)")
            #expect(first.contains("data-index=\"page\""), "\(first)")
            let before = try #require(progress(first))
            #expect(try eventually(60, poll: 1) { (progress(try render()) ?? 0) > before })
            // A screenshot for people, kept as an artefact.
            let artefacts = TestResources.repository.appendingPathComponent("var/test-artefacts")
            try FileManager.default.createDirectory(at: artefacts, withIntermediateDirectories: true)
            let shot = artefacts.appendingPathComponent("status-page.png")
            let run = try TestResources.run(
                URL(fileURLWithPath: chromium),
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,900",
                    "--virtual-time-budget=4000", "--screenshot=\(shot.path)", base.absoluteString,
                ]
            )
            #expect(run.status == 0 && FileManager.default.fileExists(atPath: shot.path), "\(run.stderr)")
            _ = try cluster.coord(["cancel", String(job)])
        }

        // MARK: helpers

        final class Statuses: @unchecked Sendable {
            private let lock = NSLock()
            private var values: [Int] = []
            func add(_ value: Int) { lock.withLock { values.append(value) } }
            var all: [Int] { lock.withLock { values } }
        }

        func makeToken(_ file: String, _ name: String, role: String) throws -> String {
            let run = try TestResources.run(
                TestResources.coordExecutable,
                ["tokens", "add", name, "--role", role, "--tokens", file]
            )
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func vectors(_ reply: HTTPExchange) -> [[Float]] {
            (reply.json["data"] as? [[String: Any]] ?? []).map { ($0["embedding"] as? [Double] ?? []).map(Float.init) }
        }

        func norm(_ a: [Float]) -> Float { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    }
}

/// The OpenAPI document (Schemas/search-api.openapi.json), and a check of replies against it:
/// the status must be documented for the route, and a JSON body must fit the documented schema
/// (types, required properties, enums), recursively.
final class OpenAPIDocument: @unchecked Sendable {
    let document: [String: Any]
    private(set) var problems: [String] = []

    init() throws {
        let url = TestResources.repository.appendingPathComponent("Schemas/search-api.openapi.json")
        document = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    var routes: Set<String> {
        var routes: Set<String> = []
        for (path, item) in document["paths"] as? [String: Any] ?? [:] {
            for method in (item as? [String: Any] ?? [:]).keys { routes.insert("\(method.uppercased()) \(path)") }
        }
        return routes
    }

    func check(_ reply: HTTPExchange, method: String, path: String) {
        let paths = document["paths"] as? [String: Any] ?? [:]
        let concrete = "/" + path
        guard
            let template = paths.keys.first(where: { template in
                let a = template.split(separator: "/")
                let b = concrete.split(separator: "/")
                return a.count == b.count && zip(a, b).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
            }),
            let operation = (paths[template] as? [String: Any])?[method.lowercased()] as? [String: Any]
        else { return }  // routes that do not exist: checked by their own expectations
        guard let response = (operation["responses"] as? [String: Any])?[String(reply.status)] as? [String: Any] else {
            problems.append("\(method) \(template): status \(reply.status) is not documented")
            return
        }
        guard let schema = ((response["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"]
        else { return }
        let body = (try? JSONSerialization.jsonObject(with: reply.body, options: [.fragmentsAllowed])) ?? NSNull()
        validate(body, schema, at: "\(method) \(template) \(reply.status)")
    }

    private func resolve(_ schema: Any) -> [String: Any] {
        guard let object = schema as? [String: Any] else { return [:] }
        guard let reference = object["$ref"] as? String else { return object }
        let name = String(reference.split(separator: "/").last ?? "")
        return ((document["components"] as? [String: Any])?["schemas"] as? [String: Any])?[name] as? [String: Any]
            ?? [:]
    }

    private func validate(_ value: Any, _ schema: Any, at place: String) {
        let schema = resolve(schema)
        if let options = schema["oneOf"] as? [Any] {
            let saved = problems
            let fits = options.contains { option in
                problems = []
                validate(value, option, at: place)
                return problems.isEmpty
            }
            problems = saved
            if !fits { problems.append("\(place): fits none of oneOf") }
            return
        }
        let types: [String] = (schema["type"] as? String).map { [$0] } ?? (schema["type"] as? [String] ?? [])
        if !types.isEmpty && !types.contains(where: { Self.fits(value, $0) }) {
            problems.append("\(place): \(value) is not \(types)")
            return
        }
        if let allowed = schema["enum"] as? [String], let text = value as? String, !allowed.contains(text) {
            problems.append("\(place): \"\(text)\" is not one of \(allowed)")
        }
        if let object = value as? [String: Any] {
            for name in schema["required"] as? [String] ?? [] where object[name] == nil {
                problems.append("\(place): \(name) is required")
            }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (name, item) in object {
                if let property = properties[name] {
                    validate(item, property, at: "\(place).\(name)")
                } else if let extra = schema["additionalProperties"] as? [String: Any] {
                    validate(item, extra, at: "\(place).\(name)")
                } else if !properties.isEmpty {
                    problems.append("\(place): \(name) is not documented")
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] {
            for (index, item) in array.enumerated() { validate(item, items, at: "\(place)[\(index)]") }
        }
    }

    private static func fits(_ value: Any, _ type: String) -> Bool {
        switch type {
        case "object": value is [String: Any]
        case "array": value is [Any]
        case "string": value is String
        case "boolean": value is Bool
        case "integer": (value as? NSNumber).map { $0.doubleValue.rounded() == $0.doubleValue } ?? false
        case "number": value is NSNumber
        case "null": value is NSNull
        default: true
        }
    }
}
