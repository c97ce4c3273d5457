import Embedding
import Foundation
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

    /// Reads each model folder's configuration and hashes its weights (no model is loaded yet).
    init(folder: String, threads: Int, tokenBudget: Int) throws {
        self.threads = threads
        self.tokenBudget = tokenBudget
        let base = URL(fileURLWithPath: folder, isDirectory: true)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base.path) else {
            throw WorkerError.setting("--models \(folder): no such folder")
        }
        for name in names.sorted() {
            let path = base.appendingPathComponent(name).path
            let weights = path + "/model.safetensors"
            guard FileManager.default.fileExists(atPath: path + "/config.json"),
                FileManager.default.fileExists(atPath: weights)
            else {
                continue
            }
            let configuration = try TransformerConfiguration(contentsOf: URL(fileURLWithPath: path + "/config.json"))
            let hash = try SafeTensors(path: weights).sha256()
            entries[name] = Entry(
                path: path,
                announcement: .init(name: name, weightsHash: hash, dimension: configuration.hiddenSize)
            )
        }
        guard !entries.isEmpty else {
            throw WorkerError.setting("--models \(folder): no model folders (config.json + model.safetensors) in it")
        }
    }

    var announcements: [WorkerMessage.ModelAnnouncement] {
        entries.values.map(\.announcement).sorted { $0.name < $1.name }
    }

    /// The embedder for `name`, loading the model on first use.
    func embedder(_ name: String) throws -> SentenceEmbedder {
        if let embedder = loaded[name] { return embedder }
        guard let entry = entries[name] else { throw WorkerError.setting("model \(name) is not in the models folder") }
        let embedder = SentenceEmbedder(
            model: try EmbeddingModel(folder: entry.path),
            threads: threads,
            tokenBudget: tokenBudget
        )
        loaded[name] = embedder
        return embedder
    }
}
