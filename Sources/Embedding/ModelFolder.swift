import Foundation

/// What a sentence-transformers model folder says about its model, read without building it:
/// the configuration, pooling, normalisation, sequence length, prompts and the sha256 of its
/// weights (the weights' file is mapped, not converted). The registry needs no more
/// (``EmbeddingModel`` builds the tokenizer and the encoder on top).
public struct ModelFolder: Sendable {
    /// The folder's name, e.g. "all-MiniLM-L6-v2".
    public let name: String
    public let folder: URL
    public let configuration: TransformerConfiguration
    public let pooling: Pooling
    public let normalize: Bool
    /// `do_lower_case` of `sentence_bert_config.json`.
    public let lowercasesInput: Bool
    /// Longest input in tokens, special tokens included (`max_seq_length`).
    public let maxSequenceLength: Int
    /// Named prompts (`config_sentence_transformers.json`).
    public let prompts: [String: PromptTemplate]
    public let defaultPromptName: String?
    /// sha256 of `model.safetensors`, hex.
    public let weightsHash: String
    /// The weights' file, mapped (its header read).
    let weights: ModelWeights

    public var dimension: Int { configuration.hiddenSize }

    /// The prompts as the registry records them: `{"name": "template", …}`, keys sorted.
    public var promptsRecord: String {
        let templates = Dictionary(uniqueKeysWithValues: prompts.map { ($0.key, $0.value.template) })
        let data = try? JSONSerialization.data(withJSONObject: templates, options: [.sortedKeys])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Whether two prompt records name the same templates (whatever their JSON spacing: the
    /// registry's column is jsonb).
    public static func samePrompts(_ a: String, _ b: String) -> Bool {
        func parse(_ text: String) -> [String: String]? {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String]
        }
        guard let x = parse(a), let y = parse(b) else { return a == b }
        return x == y
    }
    public var architecture: TransformerConfiguration.Architecture { configuration.architecture }

    /// Reads the folder in `path`: its configuration files, and the weights' header and hash.
    /// Errors name the file and setting at fault.
    public init(path: String) throws {
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

        weights = try ModelWeights(folder: folder)
        weightsHash = weights.sha256()
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
}
