import Embedding
import Foundation
import Store

/// The model folders under a directory, as registry records.
public enum ModelFolders {
    /// Subfolders holding a `config.json` and weights (`model.safetensors` or a sharded index; symbolic links followed), by name.
    public static func list(_ directory: String) -> [String] {
        let base = URL(fileURLWithPath: directory, isDirectory: true)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: base.path)) ?? []
        return names.sorted().filter { name in
            let folder = base.appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path)
                && ModelWeights.exist(in: folder)
        }.map { base.appendingPathComponent($0).path }
    }

    /// Describes the model in `path` for the registry, from its files (the engine is not built).
    public static func record(_ path: String) throws -> ModelRecord {
        let model = try ModelFolder(path: path)
        return ModelRecord(
            name: model.name,
            architecture: "\(model.architecture)",
            dimension: model.dimension,
            pooling: model.pooling.strategy.rawValue,
            normalized: model.normalize,
            maxSequenceLength: model.maxSequenceLength,
            prompts: model.promptsRecord,
            weightsHash: model.weightsHash
        )
    }
}
