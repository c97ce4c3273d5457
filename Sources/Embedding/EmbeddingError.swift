import Foundation

/// Everything that can go wrong loading or running a model. Each case names the
/// file, tensor or setting at fault.
public enum EmbeddingError: Error, CustomStringConvertible, Equatable {
    case modelFolderMissing(path: String)
    case fileMissing(path: String)
    case unreadableFile(path: String, reason: String)
    case malformedSafeTensors(path: String, reason: String)
    case truncatedSafeTensors(path: String, expectedBytes: Int, actualBytes: Int)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case tensorMissing(path: String, tensor: String)
    case tensorShape(path: String, tensor: String, expected: [Int], actual: [Int])
    case unknownArchitecture(path: String, modelType: String)
    case invalidConfiguration(path: String, setting: String, reason: String)
    case unreadableTokenizer(path: String, reason: String)
    case unknownPrompt(name: String, available: [String])
    case invalidTokens(index: Int, reason: String)

    public var description: String {
        switch self {
        case .modelFolderMissing(let path):
            return "model folder not found: \(path)"
        case .fileMissing(let path):
            return "model file not found: \(path)"
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .malformedSafeTensors(let path, let reason):
            return "malformed safetensors file \(path): \(reason)"
        case .truncatedSafeTensors(let path, let expected, let actual):
            return "truncated safetensors file \(path): needs at least \(expected) bytes, has \(actual)"
        case .unsupportedDType(let path, let tensor, let dtype):
            return "\(path): tensor '\(tensor)' has dtype \(dtype); Driftless reads F32, F16, BF16 and I64"
        case .tensorMissing(let path, let tensor):
            return "\(path): tensor '\(tensor)' is missing"
        case .tensorShape(let path, let tensor, let expected, let actual):
            return "\(path): tensor '\(tensor)' has shape \(actual), expected \(expected)"
        case .unknownArchitecture(let path, let modelType):
            return "\(path): unknown architecture '\(modelType)'; supported are bert, mpnet and qwen3"
        case .invalidConfiguration(let path, let setting, let reason):
            return "\(path): setting '\(setting)' \(reason)"
        case .unreadableTokenizer(let path, let reason):
            return "cannot read tokenizer \(path): \(reason)"
        case .invalidTokens(let index, let reason):
            return "token sequence \(index) \(reason)"
        case .unknownPrompt(let name, let available):
            let list =
                available.isEmpty ? "the model defines none" : "the model defines \(available.joined(separator: ", "))"
            return "unknown prompt '\(name)': \(list)"
        }
    }
}
