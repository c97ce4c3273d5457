import Foundation
import Testing

/// A coordinator and workers as real processes over real sockets, on a fresh
/// database of the local PostgreSQL, for the integration tests.
public final class TestCluster: @unchecked Sendable {
    public let database: TestDatabase
    public let workerEndpoint: String
    public let clientEndpoint: String
    /// A folder holding (links to) the model folders the coordinator registers and workers use.
    public let modelsFolder: URL
    /// The coordinator's keys folder; the worker key's folder (role worker); the clients' (role admin).
    public let keysFolder: String?
    public let workerKeysFolder: String?
    public let clientKeysFolder: String?
    public let leaseSeconds: Double
    public private(set) var coordinator: ManagedProcess?
    public private(set) var workers: [ManagedProcess] = []
    /// The URL workers connect with: the least-privileged worker role unless a test sets another.
    public var workerDatabaseURL: String?

    /// `models`: folder name → model folder. `keys`: make CURVE keys and use them everywhere.
    public init(models: [String: String]? = nil, keys: Bool = false, leaseSeconds: Double = 4) throws {
        database = try TestDatabase()
        let port = Int.random(in: 10_000...15_999) * 2  // below the ephemeral range (32768+)
        workerEndpoint = "tcp://127.0.0.1:\(port)"
        clientEndpoint = "tcp://127.0.0.1:\(port + 1)"
        self.leaseSeconds = leaseSeconds
        modelsFolder = try Self.modelFolder(models ?? ["all-MiniLM-L6-v2": TestResources.minilm])
        if keys {
            // Per-peer keys: one for the workers (role worker), one for the `coord` clients (role admin).
            let folder = try TestResources.temporaryDirectory().appendingPathComponent("keys").path
            for arguments in [
                ["keys", "init", folder], ["keys", "add", "test-worker", "--role", "worker", "--keys", folder],
                ["keys", "add", "test-admin", "--role", "admin", "--keys", folder],
            ] {
                let run = try TestResources.run(TestResources.coordExecutable, arguments)
                #expect(run.status == 0, "coord \(arguments.joined(separator: " ")): \(run.stderr)")
            }
            keysFolder = folder
            workerKeysFolder = folder + "/peers.d/test-worker"
            clientKeysFolder = folder + "/peers.d/test-admin"
        } else {
            keysFolder = nil
            workerKeysFolder = nil
            clientKeysFolder = nil
        }
    }

    deinit {
        for worker in workers where worker.isRunning { worker.kill9() }
        if let coordinator, coordinator.isRunning { coordinator.kill9() }
    }

    /// A temporary folder of symbolic links: NAME → model folder.
    public static func modelFolder(_ models: [String: String]) throws -> URL {
        let folder = try TestResources.temporaryDirectory().appendingPathComponent("models")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, path) in models {
            try FileManager.default.createSymbolicLink(
                atPath: folder.appendingPathComponent(name).path,
                withDestinationPath: path
            )
        }
        return folder
    }

    /// Starts `coord serve` without waiting for it (a test that watches it start).
    public func launchCoordinator(_ extra: [String] = []) throws -> ManagedProcess {
        var arguments = [
            "serve", "--database", database.url, "--bind", workerEndpoint, "--client-bind", clientEndpoint,
            "--models", modelsFolder.path, "--lease-seconds", "\(leaseSeconds)", "--heartbeat-seconds", "0.5",
        ]
        if let keysFolder { arguments += ["--keys", keysFolder] }
        return try ManagedProcess(
            name: "coord-\(UUID().uuidString.prefix(4))",
            executable: TestResources.coordExecutable,
            arguments: arguments + extra
        )
    }

    /// Starts `coord serve` and waits until it is ready.
    @discardableResult
    public func startCoordinator(_ extra: [String] = []) throws -> ManagedProcess {
        let process = try launchCoordinator(extra)
        #expect(process.waitForLog("coordinator ready", seconds: 60), "the coordinator did not start:\n\(process.log)")
        coordinator = process
        return process
    }

    /// Starts a worker (one thread) and waits until the coordinator welcomed it.
    @discardableResult
    public func startWorker(
        models: URL? = nil,
        environment: [String: String] = [:],
        waitForWelcome: Bool = true,
        extra: [String] = []
    ) throws -> ManagedProcess {
        var arguments = [
            "serve", "--coordinator", workerEndpoint, "--database", workerDatabaseURL ?? database.workerURL,
            "--models", (models ?? modelsFolder).path, "--threads", "1",
        ]
        if let workerKeysFolder { arguments += ["--keys", workerKeysFolder] }
        let process = try ManagedProcess(
            name: "worker-\(workers.count)",
            executable: TestResources.workerExecutable,
            arguments: arguments + extra,
            environment: environment
        )
        if waitForWelcome {
            #expect(
                process.waitForLog("connected to the coordinator", seconds: 60),
                "the worker did not connect:\n\(process.log)"
            )
        }
        workers.append(process)
        return process
    }

    /// Runs a `coord` client command to completion.
    public func coord(_ arguments: [String]) throws -> TestResources.Run {
        var arguments = arguments + ["--coordinator", clientEndpoint]
        if let clientKeysFolder { arguments += ["--keys", clientKeysFolder] }
        return try TestResources.run(TestResources.coordExecutable, arguments)
    }

    /// Runs a `coord` command that talks to the database itself (`query`, `eval`, `index …`):
    /// with `--database`, and with `--models` unless `models` is false.
    public func coordOnDatabase(_ arguments: [String], models: Bool = true) throws -> TestResources.Run {
        try TestResources.run(
            TestResources.coordExecutable,
            arguments + ["--database", database.url] + (models ? ["--models", modelsFolder.path] : [])
        )
    }

    /// Runs a `coord` lifecycle command (`upgrade`, `reindex`, `promote`, `gc`, `delete`, `query`, …)
    /// with what it takes of `--database`, `--models` and `--coordinator`.
    public func lifecycle(_ arguments: [String]) throws -> TestResources.Run {
        let command = arguments.first ?? ""
        return try TestResources.run(
            TestResources.coordExecutable,
            arguments + ["--database", database.url]
                + (["upgrade", "reindex", "query", "eval"].contains(command) ? ["--models", modelsFolder.path] : [])
                + (["upgrade", "reindex"].contains(command) ? ["--coordinator", clientEndpoint] : [])
        )
    }

    /// `coord submit CORPUS --index INDEX --model all-MiniLM-L6-v2 --detach`: the job id.
    public func submitDetached(_ corpus: URL, index: String, shardSize: Int = 8, extra: [String] = []) throws -> Int64?
    {
        let run = try coord(
            [
                "submit", corpus.path, "--index", index, "--model", "all-MiniLM-L6-v2", "--shard-size", "\(shardSize)",
                "--detach",
            ] + extra
        )
        #expect(run.status == 0, "submit failed: \(run.stderr)")
        return Int64(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Waits until the job is done (or failed); returns its state.
    public func waitForJob(_ job: Int64, seconds: Double = 240) throws -> String? {
        var state: String?
        _ = try eventually(seconds, poll: 0.5) {
            state = try database.scalar("SELECT state FROM jobs WHERE id = $1", [String(job)])
            return state == "done" || state == "failed"
        }
        return state
    }

    /// Logs of every process, for a failing test's message.
    public var logs: String {
        ([coordinator].compactMap { $0 } + workers).map { "--- \($0.name)\n\($0.log.suffix(4000))" }.joined(
            separator: "\n"
        )
    }
}

extension TestResources {
    /// BEIR query lines and a qrels table: the titles of the first `count` documents as queries
    /// `q0`, `q1`, …, each judging its own document relevant.
    public static func titleQueries(_ documents: [[String: Any]], count: Int) throws -> (queries: String, qrels: String)
    {
        var queries = ""
        var qrels = "query-id\tcorpus-id\tscore\n"
        for (n, document) in documents.prefix(count).enumerated() {
            queries +=
                String(
                    decoding: try JSONSerialization.data(withJSONObject: ["_id": "q\(n)", "text": document["title"]!]),
                    as: UTF8.self
                ) + "\n"
            qrels += "q\(n)\t\(document["_id"]!)\t1\n"
        }
        return (queries, qrels)
    }

    /// The first `count` SciFact documents, each given metadata fields to round-trip, in a temporary file.
    public static func scifactSubset(_ count: Int, from start: Int = 0) throws -> (url: URL, documents: [[String: Any]])
    {
        let corpus = shared.appendingPathComponent("data/scifact/corpus.jsonl")
        let lines = try String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").dropFirst(start).prefix(
            count
        )
        var documents: [[String: Any]] = []
        var text = ""
        for (index, line) in lines.enumerated() {
            var object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            object["year"] = 2000 + index % 20
            object["tags"] = ["scifact", index % 2 == 0 ? "even" : "odd"]
            object["source"] = ["dataset": "BEIR", "line": index + 1]
            documents.append(object)
            text +=
                String(
                    decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
                    as: UTF8.self
                ) + "\n"
        }
        let url = try temporaryDirectory().appendingPathComponent("corpus.jsonl")
        try Data(text.utf8).write(to: url)
        return (url, documents)
    }
}

extension TestCluster {
    /// Starts `coord api` on a free loopback port over this cluster's database, models and
    /// coordinator; returns it and its base URL once it listens.
    public func startAPI(_ extra: [String] = []) throws -> (process: ManagedProcess, url: URL) {
        var arguments = [
            "api", "--port", "0", "--database", database.url, "--models", modelsFolder.path,
            "--coordinator", clientEndpoint,
        ]
        if let clientKeysFolder { arguments += ["--keys", clientKeysFolder] }
        let process = try ManagedProcess(
            name: "api-\(UUID().uuidString.prefix(4))",
            executable: TestResources.coordExecutable,
            arguments: arguments + extra
        )
        #expect(process.waitForLog("url=http://", seconds: 60), "coord api did not start:\n\(process.log)")
        let log = process.log
        let start = try #require(log.range(of: "url=http://")?.lowerBound)
        let address = log[log.index(start, offsetBy: "url=".count)...].prefix { !$0.isWhitespace }
        return (process, try #require(URL(string: String(address))))
    }
}
