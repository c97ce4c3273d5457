import Crypto
import Foundation

/// A model's weights: `model.safetensors`, or several shards listed by
/// `model.safetensors.index.json` (`{"weight_map": {tensor: file}}`), each mapped.
public struct ModelWeights: Sendable {
    /// The single file, or the index file of a sharded model (for messages).
    public let path: String
    let shards: [SafeTensors]
    /// Which shard holds each tensor.
    private let location: [String: Int]

    public static let singleFile = "model.safetensors"
    public static let indexFile = "model.safetensors.index.json"

    /// Whether `folder` holds weights in either layout.
    public static func exist(in folder: URL) -> Bool {
        [singleFile, indexFile].contains {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
        }
    }

    /// Maps the weights in `folder`. A sharded model must have every shard its index names,
    /// and every tensor must be in the shard the index says.
    public init(folder: URL) throws {
        let single = folder.appendingPathComponent(Self.singleFile)
        let index = folder.appendingPathComponent(Self.indexFile)
        if FileManager.default.fileExists(atPath: single.path) || !FileManager.default.fileExists(atPath: index.path) {
            let file = try SafeTensors(path: single.path)
            path = single.path
            shards = [file]
            location = file.entries.mapValues { _ in 0 }
            return
        }
        path = index.path
        let object = try JSONFile.object(at: index)
        guard let map = object["weight_map"] as? [String: String], !map.isEmpty else {
            throw EmbeddingError.invalidConfiguration(
                path: index.path,
                setting: "weight_map",
                reason: "is missing or empty"
            )
        }
        let files = Array(Set(map.values)).sorted()
        var shards: [SafeTensors] = []
        for file in files {
            guard !file.contains("/"), !file.hasPrefix(".") else {
                throw EmbeddingError.invalidConfiguration(
                    path: index.path,
                    setting: "weight_map",
                    reason: "names '\(file)', which is not a file in the model folder"
                )
            }
            let shard = folder.appendingPathComponent(file).path
            guard FileManager.default.fileExists(atPath: shard) else {
                throw EmbeddingError.fileMissing(path: shard + " (a shard named by \(Self.indexFile))")
            }
            shards.append(try SafeTensors(path: shard))
        }
        var location: [String: Int] = [:]
        for (tensor, file) in map {
            let shard = files.firstIndex(of: file)!
            guard shards[shard].entries[tensor] != nil else {
                throw EmbeddingError.tensorMissing(path: shards[shard].path, tensor: tensor)
            }
            location[tensor] = shard
        }
        self.shards = shards
        self.location = location
    }

    /// The tensor `name` widened to `Float`, checked against `shape` when given.
    public func floats(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        guard let shard = location[name] else { throw EmbeddingError.tensorMissing(path: path, tensor: name) }
        return try shards[shard].floats(name, shape: shape)
    }

    /// The shape of tensor `name`, if present.
    public func shape(_ name: String) -> [Int]? { location[name].flatMap { shards[$0].shape(name) } }

    /// sha256, hex: of the file for a single file (as it always was), else of the shards' bytes
    /// one after another in file-name order.
    public func sha256() -> String {
        if shards.count == 1 { return shards[0].sha256() }
        var hasher = SHA256()
        for shard in shards { shard.withFileBytes { hasher.update(data: $0) } }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
