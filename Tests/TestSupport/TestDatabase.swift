import Foundation
import PostgresClient
import Testing

/// The local PostgreSQL (Ops/postgres.sh) and a fresh database per test.
public final class TestDatabase: @unchecked Sendable {
    /// The server's URL without a database name.
    public static let serverURL: String = {
        let run = runScript(["start"])
        guard run.status == 0, let url = run.stdout.split(separator: "\n").last.map(String.init),
            url.hasPrefix("postgresql://")
        else {
            // Under CI a missing server is a broken install step, never a skipped test.
            Issue.record("Ops/postgres.sh start failed (status \(run.status)): \(run.stderr)")
            return "postgresql://driftless@127.0.0.1:54329/driftless"
        }
        return url
    }()

    public let name: String
    public let url: String

    /// Creates an empty database with the vector extension.
    public init() throws {
        name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let admin = try PostgresConnection(url: Self.serverURL)
        try admin.execute("CREATE DATABASE \(name)")
        let base = Self.serverURL
        url = String(base[..<base.lastIndex(of: "/")!]) + "/" + name
        try PostgresConnection(url: url).execute("CREATE EXTENSION IF NOT EXISTS vector")
    }

    deinit {
        if let admin = try? PostgresConnection(url: Self.serverURL) {
            _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
    }

    public func connect() throws -> PostgresConnection { try PostgresConnection(url: url) }

    /// The same database as the workers' role (driftless_worker) and the read-only role.
    public var workerURL: String { url.replacingOccurrences(of: "://driftless@", with: "://driftless_worker@") }
    public var readerURL: String { url.replacingOccurrences(of: "://driftless@", with: "://driftless_reader@") }

    /// Cuts the workers off from PostgreSQL and nothing else: their role may not log in and its
    /// sessions are ended (the coordinator's role is untouched). ``restoreWorkers()`` undoes it.
    public func cutOffWorkers() throws {
        let owner = try connect()
        try owner.execute("ALTER ROLE driftless_worker NOLOGIN")
        try owner.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'driftless_worker'")
    }

    public func restoreWorkers() throws { try connect().execute("ALTER ROLE driftless_worker LOGIN") }

    /// The first column of the first row of `sql`.
    public func scalar(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        try connect().execute(sql, parameters).scalar
    }

    public func count(_ sql: String, _ parameters: [String?] = []) throws -> Int {
        Int(try scalar(sql, parameters) ?? "0") ?? 0
    }

    /// Stops the shared server (start it again with ``startServer()``).
    public static func stopServer() { _ = runScript(["stop"]) }

    public static func startServer() {
        let run = runScript(["start"])
        #expect(run.status == 0, "Ops/postgres.sh start failed: \(run.stderr)")
    }

    /// Stops and starts the shared server (for the restart fault test).
    public static func restartServer(downSeconds: Double) {
        stopServer()
        Thread.sleep(forTimeInterval: downSeconds)
        _ = runScript(["start"])
    }

    /// Runs Ops/postgres.sh. Output goes through files, not pipes: a server it starts
    /// would otherwise inherit the pipe and keep it open for ever.
    static func runScript(_ arguments: [String]) -> TestResources.Run {
        guard let folder = try? TestResources.temporaryDirectory() else {
            return TestResources.Run(status: -1, stdout: "", stderr: "no temporary folder")
        }
        let outURL = folder.appendingPathComponent("stdout")
        let errURL = folder.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [TestResources.repository.appendingPathComponent("Ops/postgres.sh").path] + arguments
        process.standardInput = FileHandle.nullDevice
        do {
            process.standardOutput = try FileHandle(forWritingTo: outURL)
            process.standardError = try FileHandle(forWritingTo: errURL)
            try process.run()
        } catch {
            return TestResources.Run(status: -1, stdout: "", stderr: "\(error)")
        }
        process.waitUntilExit()
        return TestResources.Run(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        )
    }
}
