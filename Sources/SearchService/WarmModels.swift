import Foundation
import Search
import Store
import Synchronization

/// The models the service holds in memory, one ``MicroBatcher`` each, loaded once (checked
/// against the registry's weights hash) and shared by every search and embeddings call.
final class WarmModels: Sendable {
    let modelsFolder: String
    let threads: Int
    let limits: MicroBatcher.Limits
    let onBatch: @Sendable (Int) -> Void
    /// Loaded models by name and weights; loading holds the lock (a model loads once).
    private let loaded = Mutex<[String: MicroBatcher]>([:])
    private let loading = NSLock()

    init(modelsFolder: String, threads: Int, limits: MicroBatcher.Limits, onBatch: @escaping @Sendable (Int) -> Void) {
        self.modelsFolder = modelsFolder
        self.threads = threads
        self.limits = limits
        self.onBatch = onBatch
    }

    private static func key(_ model: ModelRecord) -> String { "\(model.name)\u{0}\(model.weightsHash)" }

    /// The warm model for `model`, loading it when it is not yet.
    func batcher(for model: ModelRecord) throws(SearchError) -> MicroBatcher {
        let key = Self.key(model)
        if let warm = loaded.withLock({ $0[key] }) { return warm }
        loading.lock()
        defer { loading.unlock() }
        if let warm = loaded.withLock({ $0[key] }) { return warm }
        let batcher = MicroBatcher(
            encoder: try QueryEncoder(for: model, modelsFolder: modelsFolder, threads: threads),
            limits: limits
        )
        batcher.onBatch = onBatch
        loaded.withLock { $0[key] = batcher }
        return batcher
    }

    /// Names of the models loaded.
    var names: [String] { loaded.withLock { $0.values.map(\.encoder.model.name) }.sorted() }
}
