import Crypto
import Foundation

/// A sentence-transformers model folder, loaded: tokenizer → encoder →
/// pooling → optional L2 normalisation, with its prompts and the content hash
/// of its weights. Immutable and shareable; ``SentenceEmbedder`` runs it.
public struct EmbeddingModel: Sendable {
    /// The folder's name, e.g. "all-MiniLM-L6-v2".
    public let name: String
    public let folder: URL
    public let configuration: TransformerConfiguration
    public let tokenizer: WordPieceTokenizer
    public let pooling: Pooling
    public let normalize: Bool
    /// `do_lower_case` of `sentence_bert_config.json`: texts are lower-cased before tokenising.
    public let lowercasesInput: Bool
    /// Longest input in tokens, special tokens included (`max_seq_length`).
    public let maxSequenceLength: Int
    /// Named prompts (`config_sentence_transformers.json`), e.g. "query" → "query: ".
    public let prompts: [String: PromptTemplate]
    public let defaultPromptName: String?
    /// sha256 of `model.safetensors`, hex: identifies the weights.
    public let weightsHash: String
    let encoder: TransformerEncoder

    public var dimension: Int { configuration.hiddenSize }
    public var architecture: TransformerConfiguration.Architecture { configuration.architecture }

    /// Loads the model in `path`. Errors name the file and setting at fault.
    public init(folder path: String) throws {
        let folder = URL(fileURLWithPath: path, isDirectory: true)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw EmbeddingError.modelFolderMissing(path: path)
        }
        self.folder = folder
        name = folder.standardizedFileURL.lastPathComponent
        configuration = try TransformerConfiguration(contentsOf: folder.appendingPathComponent("config.json"))

        let modules = try Self.modules(in: folder)
        pooling =
            try modules.pooling.map {
                try Pooling(contentsOf: folder.appendingPathComponent($0).appendingPathComponent("config.json"))
            }
            ?? Pooling(strategy: .mean)
        normalize = modules.normalize

        let bertConfig = folder.appendingPathComponent("sentence_bert_config.json")
        let bertSettings = try JSONFile.optionalObject(at: bertConfig)
        let requested = bertSettings?["max_seq_length"] as? Int
        lowercasesInput = (bertSettings?["do_lower_case"] as? Bool) ?? false
        if let requested, requested < 1 {
            throw EmbeddingError.invalidConfiguration(
                path: bertConfig.path,
                setting: "max_seq_length",
                reason: "must be positive"
            )
        }
        maxSequenceLength = min(requested ?? configuration.maxSequenceLength, configuration.maxSequenceLength)

        let stConfig = try JSONFile.optionalObject(
            at: folder.appendingPathComponent("config_sentence_transformers.json")
        )
        prompts = ((stConfig?["prompts"] as? [String: String]) ?? [:]).mapValues(PromptTemplate.init)
        defaultPromptName = stConfig?["default_prompt_name"] as? String

        tokenizer = try WordPieceTokenizer(folder: folder)
        let vocabularySize = configuration.vocabularySize
        if let bad = tokenizer.producibleIds.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw EmbeddingError.unreadableTokenizer(
                path: folder.path,
                reason:
                    "token id \(bad) is outside the model's vocabulary of \(vocabularySize) (config.json vocab_size)"
            )
        }
        let weights = try SafeTensors(path: folder.appendingPathComponent("model.safetensors").path)
        weightsHash = weights.sha256()
        encoder = try TransformerEncoder(weights: weights, configuration: configuration)
    }

    /// Which module folder pools, and whether a Normalize module follows.
    private static func modules(in folder: URL) throws -> (pooling: String?, normalize: Bool) {
        let url = folder.appendingPathComponent("modules.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            // A plain Hugging Face folder: its own pooling folder if any, else mean pooling.
            let pooling = folder.appendingPathComponent("1_Pooling/config.json")
            return (FileManager.default.fileExists(atPath: pooling.path) ? "1_Pooling" : nil, false)
        }
        guard let data = try? Data(contentsOf: url),
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else {
            throw EmbeddingError.invalidConfiguration(
                path: url.path,
                setting: "(file)",
                reason: "is not a JSON list of modules"
            )
        }
        var pooling: String?
        var normalize = false
        for module in list {
            let type = (module["type"] as? String) ?? ""
            if type.hasSuffix(".Pooling") {
                pooling = (module["path"] as? String) ?? "1_Pooling"
            } else if type.hasSuffix(".Normalize") {
                normalize = true
            } else if !type.hasSuffix(".Transformer") {
                throw EmbeddingError.invalidConfiguration(
                    path: url.path,
                    setting: "type",
                    reason: "names an unsupported module '\(type)'"
                )
            }
        }
        return (pooling, normalize)
    }

    /// Resolves a prompt given by name ("query", "document", or any name the
    /// model defines) or literally. The names "query" and "document" mean no
    /// prompt for models that define none.
    public func prompt(named nameOrText: String) -> PromptTemplate {
        if let prompt = prompts[nameOrText] { return prompt }
        if ["query", "document", "passage", "corpus"].contains(nameOrText) { return PromptTemplate("") }
        return PromptTemplate(nameOrText)
    }

    /// The default prompt of the model, if its configuration names one.
    public var defaultPrompt: PromptTemplate? { defaultPromptName.flatMap { prompts[$0] } }

    /// Token ids of `text` (with the prompt, when given), truncated to ``maxSequenceLength``.
    public func tokenize(_ text: String, prompt: PromptTemplate? = nil, task: String? = nil) -> [Int32] {
        let full = prompt.map { $0.apply(to: text, task: task) } ?? text
        return tokenizer.encode(lowercasesInput ? full.lowercased() : full, maxLength: maxSequenceLength)
    }

    /// How many leading tokens belong to the prompt (left out of pooling when
    /// the pooling configuration says `include_prompt: false`).
    public func promptTokenCount(_ prompt: PromptTemplate?, task: String?) -> Int {
        guard let prompt, !pooling.includePrompt, !prompt.isEmpty else { return 0 }
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
