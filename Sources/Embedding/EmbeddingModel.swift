import Crypto
import Foundation
@_exported import LowPrecision

/// A sentence-transformers model folder, loaded: tokenizer → encoder →
/// pooling → optional L2 normalisation, with its prompts and the content hash
/// of its weights. Immutable and shareable; ``SentenceEmbedder`` runs it.
/// What the folder says (`model.name`, `model.prompts`, `model.weightsHash`, …) is its
/// ``ModelFolder``'s, read through.
@dynamicMemberLookup
public struct EmbeddingModel: Sendable {
    public let metadata: ModelFolder
    public let tokenizer: any TextTokenizer
    let encoder: any SequenceEncoder
    /// The Matryoshka cut, when vectors are kept to their first dimensions (``truncated(to:)``).
    public private(set) var truncation: Int?

    /// Length of the vectors this model makes: the network's width, or the Matryoshka cut.
    public var dimension: Int { truncation ?? metadata.dimension }

    public subscript<T>(dynamicMember keyPath: KeyPath<ModelFolder, T>) -> T { metadata[keyPath: keyPath] }

    /// The number format of its dense layers' products (``Precision``): part of its identity.
    public let precision: Precision

    /// Loads the model in `path`, its dense layers lowered to `precision`. Errors name the file
    /// and setting at fault.
    public init(folder path: String, precision: Precision = .fp32) throws {
        self.precision = precision
        metadata = try ModelFolder(path: path)
        tokenizer = try TokenizerLoader.load(folder: metadata.folder)
        let vocabularySize = metadata.configuration.vocabularySize
        if let bad = tokenizer.producibleIds.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw EmbeddingError.unreadableTokenizer(
                path: metadata.folder.path,
                reason:
                    "token id \(bad) is outside the model's vocabulary of \(vocabularySize) (config.json vocab_size)"
            )
        }
        encoder =
            metadata.configuration.architecture.isDecoder
            ? try DecoderTransformer(
                weights: metadata.weights,
                configuration: metadata.configuration,
                precision: precision
            )
            : try TransformerEncoder(
                weights: metadata.weights,
                configuration: metadata.configuration,
                precision: precision
            )
    }

    /// This model with its vectors cut to their first `dimension` floats and re-normalised
    /// (Matryoshka representation learning). Refused beyond the model's own dimension.
    public func truncated(to dimension: Int) throws -> EmbeddingModel {
        guard (1...metadata.dimension).contains(dimension) else {
            throw EmbeddingError.invalidConfiguration(
                path: metadata.folder.path,
                setting: "dimension",
                reason: "(\(dimension)) must be 1 to the model's \(metadata.dimension) dimensions"
            )
        }
        var copy = self
        copy.truncation = dimension == metadata.dimension ? nil : dimension
        return copy
    }

    /// Resolves a prompt given by name ("query", "document", or any name the
    /// model defines) or literally. The names "query" and "document" mean no
    /// prompt for models that define none.
    public func prompt(named nameOrText: String) -> PromptTemplate {
        if let prompt = metadata.prompts[nameOrText] { return prompt }
        if ["query", "document", "passage", "corpus"].contains(nameOrText) { return PromptTemplate("") }
        return PromptTemplate(nameOrText)
    }

    /// The prompt a document gets when it is indexed: the model's "document" prompt, else its
    /// default prompt, else none. Workers and on-demand embedding both use this one.
    public var documentPrompt: PromptTemplate? { metadata.prompts["document"] ?? defaultPrompt }

    /// The default prompt of the model, if its configuration names one.
    public var defaultPrompt: PromptTemplate? { metadata.defaultPromptName.flatMap { metadata.prompts[$0] } }

    /// Token ids of `text` (with the prompt, when given), truncated to ``maxSequenceLength``.
    public func tokenize(_ text: String, prompt: PromptTemplate? = nil, task: String? = nil) -> [Int32] {
        let full = prompt.map { $0.apply(to: text, task: task) } ?? text
        return tokenizer.encode(
            metadata.lowercasesInput ? full.lowercased() : full,
            maxLength: metadata.maxSequenceLength
        )
    }

    /// How many leading tokens belong to the prompt (left out of pooling when
    /// the pooling configuration says `include_prompt: false`).
    public func promptTokenCount(_ prompt: PromptTemplate?, task: String?) -> Int {
        guard let prompt, !metadata.pooling.includePrompt, !prompt.isEmpty else { return 0 }
        return tokenizer.prefix.count + tokenizer.tokenize(prompt.prefix(task: task)).count
    }
}

extension SafeTensors {
    /// sha256 of the whole file, hex.
    public func sha256() -> String {
        let digest = withFileBytes { SHA256.hash(data: $0) }
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}
