import Embedding
import Foundation
import Store

/// What embeds a search's texts with one model: ``QueryEncoder`` itself, or a shared one that
/// batches the calls of many concurrent searches (the search service's micro-batcher).
public protocol QueryEmbedding: AnyObject {
    /// One unit-length vector per query text, with the model's query prompt.
    func embed(_ texts: [String]) throws(SearchError) -> [[Float]]
    /// Document vectors, as workers make them.
    func embedDocuments(_ texts: [String]) throws(SearchError) -> [[Float]]
}

/// Embeds queries with a registered model (its "query" prompt, when it has one), after
/// checking that the model folder holds the weights the registry names.
public final class QueryEncoder: QueryEmbedding {
    public let model: EmbeddingModel
    public let prompt: PromptTemplate?
    /// The task filled into the query prompt, where it takes one (an index's instruction).
    public let task: String?
    private let embedder: SentenceEmbedder

    /// Loads `model` from `modelsFolder/<model name>`, checking its weights against the registry's.
    public init(
        for registered: ModelRecord,
        modelsFolder: String,
        threads: Int = 1,
        task: String? = nil
    ) throws(SearchError) {
        self.task = task
        let name = registered.folderName
        let folder = URL(fileURLWithPath: modelsFolder, isDirectory: true).appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: folder) else {
            throw .modelMissing(model: name, folder: modelsFolder)
        }
        do {
            // Queries in the precision its index's documents were embedded in (FOLDER:int8 …).
            let precision = Precision(rawValue: registered.precision) ?? .fp32
            let loaded = try EmbeddingModel(folder: folder, precision: precision)
            // A Matryoshka record (FOLDER@D) queries with the first D dimensions, as its index holds them.
            model = try ModelName(registered.name).dimension.map { try loaded.truncated(to: $0) } ?? loaded
        } catch {
            throw .modelUnreadable(model: name, folder: folder, reason: "\(error)")
        }
        guard model.weightsHash == registered.weightsHash else {
            throw .weightsDiffer(
                model: name,
                folder: folder,
                registered: registered.weightsHash,
                found: model.weightsHash
            )
        }
        prompt = model.prompts["query"]
        embedder = SentenceEmbedder(model: model, threads: threads)
    }

    /// One unit-length vector per query text, in order. Texts must not be blank.
    public func embed(_ texts: [String]) throws(SearchError) -> [[Float]] {
        do { return try embedder.embed(texts, prompt: prompt, task: task) } catch { throw .embedding(error) }
    }

    /// Vectors for `texts` with the given prompt (nil: none), and how many tokens each took.
    public func embed(_ texts: [String], prompt: PromptTemplate?, task: String? = nil) throws(SearchError) -> [[Float]]
    {
        do { return try embedder.embed(texts, prompt: prompt, task: task) } catch { throw .embedding(error) }
    }

    /// Document vectors, as workers make them (the model's "document" or default prompt).
    public func embedDocuments(_ texts: [String]) throws(SearchError) -> [[Float]] {
        do { return try embedder.embed(texts, prompt: model.documentPrompt) } catch {
            throw .embedding(error)
        }
    }
}
