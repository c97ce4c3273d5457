import Embedding
import Foundation
import Store
import Wire

/// The models a worker has: announced by name and weights hash at start,
/// loaded (once) when the first shard for one arrives.
final class ModelShelf {
    struct Entry {
        var path: String
        var announcement: WorkerMessage.ModelAnnouncement
    }

    private(set) var entries: [String: Entry] = [:]
    private var loaded: [String: SentenceEmbedder] = [:]
    private let threads: Int
    private let tokenBudget: Int
    /// The precisions this worker runs its models in (`worker --precisions`, less int8 where the
    /// CPU lacks VNNI: ``Precision/offered(_:)``).
    let precisions: [Precision]

    /// Reads each model folder's configuration and hashes its weights (no model is loaded yet).
    init(folder: String, threads: Int, tokenBudget: Int, precisions: [Precision] = Precision.allCases) throws {
        self.threads = threads
        self.tokenBudget = tokenBudget
        self.precisions = precisions
        let base = URL(fileURLWithPath: folder, isDirectory: true)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base.path) else {
            throw WorkerError.setting("--models \(folder): no such folder")
        }
        for name in names.sorted() {
            let path = base.appendingPathComponent(name).path
            let folder = URL(fileURLWithPath: path, isDirectory: true)
            guard FileManager.default.fileExists(atPath: path + "/config.json"), ModelWeights.exist(in: folder) else {
                continue
            }
            let model = try ModelFolder(path: path)
            entries[name] = Entry(
                path: path,
                announcement: .init(
                    name: name,
                    weightsHash: model.weightsHash,
                    dimension: model.dimension,
                    prompts: model.promptsRecord,
                    precisions: precisions.map(\.rawValue)
                )
            )
        }
        guard !entries.isEmpty else {
            throw WorkerError.setting(
                "--models \(folder): no model folders (config.json + model.safetensors or its sharded index) in it"
            )
        }
    }

    var announcements: [WorkerMessage.ModelAnnouncement] {
        entries.values.map(\.announcement).sorted { $0.name < $1.name }
    }

    /// The embedder for `name`, loading the model on first use.
    /// The embedder for the registered model `name` (a folder's name, or `FOLDER@D` for its
    /// vectors cut to `D` dimensions).
    func embedder(_ name: String) throws -> SentenceEmbedder {
        if let embedder = loaded[name] { return embedder }
        let parsed = ModelName(name)
        guard let entry = entries[parsed.folder] else {
            throw WorkerError.setting("model \(parsed.folder) is not in the models folder")
        }
        let precision = Precision(rawValue: parsed.precision ?? "fp32") ?? .fp32
        guard precisions.contains(precision) else {
            throw WorkerError.setting(
                "model \(name): this worker does not run \(precision) (its precisions: \(precisions))"
            )
        }
        var model = try EmbeddingModel(folder: entry.path, precision: precision)
        if let dimension = parsed.dimension { model = try model.truncated(to: dimension) }
        let embedder = SentenceEmbedder(
            model: model,
            threads: threads,
            tokenBudget: tokenBudget
        )
        loaded[name] = embedder
        return embedder
    }
}
