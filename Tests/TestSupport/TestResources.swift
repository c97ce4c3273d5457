import Foundation
import Testing

/// What the tests share: where the Ops scripts put the models, where the shared
/// material lives, temporary files, and the built `worker` executable.
public enum TestResources {
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
    public static let shared = URL(
        fileURLWithPath: ProcessInfo.processInfo.environment["DRIFTLESS_SHARED"]
            ?? repository.appendingPathComponent("../shared").path
    )
    .standardizedFileURL
    public static let models = URL(
        fileURLWithPath: ProcessInfo.processInfo.environment["DRIFTLESS_MODELS"]
            ?? repository.appendingPathComponent("models").path
    )

    /// A model folder by name: `models/NAME` (from Ops/install-models.sh), or `../shared/models/NAME`.
    public static func model(_ name: String) -> String {
        for base in [models, shared.appendingPathComponent("models")] {
            let path = base.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path + "/model.safetensors") { return path }
        }
        Issue.record("model \(name) not found in \(models.path) or \(shared.path)/models: run Ops/install-models.sh")
        return models.appendingPathComponent(name).path
    }

    public static func fixture(_ name: String) -> URL {
        shared.appendingPathComponent("fixtures").appendingPathComponent(name)
    }

    public static func jsonLines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("driftless-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The `worker` executable built beside the test bundle.
    public static var workerExecutable: URL { executable("worker") }

    /// The `coord` executable built beside the test bundle.
    public static var coordExecutable: URL { executable("coord") }

    static func executable(_ name: String) -> URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundle, bundle.deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        Issue.record("the \(name) executable was not built beside \(bundle.path): run the tests with `swift test`")
        return bundle.appendingPathComponent(name)
    }

    public static func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
        let dir = try temporaryDirectory()
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    public struct Run: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs the worker executable to completion.
    public static func runWorker(_ arguments: [String]) throws -> Run { try run(workerExecutable, arguments) }

    /// Runs an executable to completion, capturing its output.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> Run
    {
        let process = Process()
        process.executableURL = executable
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
    }

    /// The `all-MiniLM-L6-v2` folder.
    public static var minilm: String { model("all-MiniLM-L6-v2") }
}
