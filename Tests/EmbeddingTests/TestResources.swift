import Foundation
import Testing

/// Where the Ops scripts put the models and where the shared material lives.
enum TestResources {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shared = URL(fileURLWithPath: ProcessInfo.processInfo.environment["DRIFTLESS_SHARED"] ?? repository.appendingPathComponent("../shared").path)
        .standardizedFileURL
    static let models = URL(fileURLWithPath: ProcessInfo.processInfo.environment["DRIFTLESS_MODELS"] ?? repository.appendingPathComponent("models").path)

    /// A model folder by name: `models/NAME` (from Ops/install-models.sh), or `../shared/models/NAME`.
    static func model(_ name: String) -> String {
        for base in [models, shared.appendingPathComponent("models")] {
            let path = base.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path + "/model.safetensors") { return path }
        }
        Issue.record("model \(name) not found in \(models.path) or \(shared.path)/models: run Ops/install-models.sh")
        return models.appendingPathComponent(name).path
    }

    static func fixture(_ name: String) -> URL { shared.appendingPathComponent("fixtures").appendingPathComponent(name) }

    static func jsonLines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("driftless-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
