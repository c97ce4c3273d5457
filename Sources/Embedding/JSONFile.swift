import Foundation

/// Reads small JSON configuration files.
enum JSONFile {
    static func object(at url: URL) throws -> [String: Any] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw EmbeddingError.fileMissing(path: url.path)
        }
        do {
            let data = try Data(contentsOf: url)
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw EmbeddingError.invalidConfiguration(
                    path: url.path,
                    setting: "(file)",
                    reason: "is not a JSON object"
                )
            }
            return object
        } catch let error as EmbeddingError {
            throw error
        } catch {
            throw EmbeddingError.unreadableFile(path: url.path, reason: "not valid JSON")
        }
    }

    static func optionalObject(at url: URL) throws -> [String: Any]? {
        FileManager.default.fileExists(atPath: url.path) ? try object(at: url) : nil
    }
}
