import Embedding
import Foundation
import Store

/// Embeds queries for an index with the model that built it (the model's "query" prompt,
/// when it has one), after checking that the model folder holds the same weights.
public final class QueryEncoder {
    public let model: EmbeddingModel
    public let prompt: PromptTemplate?
    private let embedder: SentenceEmbedder

    /// Loads `index`'s model from `modelsFolder/<model name>`.
    public init(for index: IndexRecord, modelsFolder: String, threads: Int = 1) throws(SearchError) {
        let name = index.model.name
        let folder = URL(fileURLWithPath: modelsFolder, isDirectory: true).appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: folder) else { throw .modelMissing(model: name, folder: modelsFolder) }
        do { model = try EmbeddingModel(folder: folder) } catch {
            throw .modelUnreadable(model: name, folder: folder, reason: "\(error)")
        }
        guard model.weightsHash == index.model.weightsHash else {
            throw .weightsDiffer(model: name, folder: folder, registered: index.model.weightsHash, found: model.weightsHash)
        }
        prompt = model.prompts["query"]
        embedder = SentenceEmbedder(model: model, threads: threads)
    }

    /// One unit-length vector per query text, in order. Texts must not be blank.
    public func embed(_ texts: [String]) throws(SearchError) -> [[Float]] {
        do { return try embedder.embed(texts, prompt: prompt) } catch { throw .embedding(error) }
    }
}
