import Corpus

/// Errors of the worker's commands; each names the file or setting at fault.
public enum WorkerError: Error, CustomStringConvertible {
    case cannotWrite(path: String)
    case outputIsInput(path: String)
    case invalidInput(path: String, errors: [CorpusError], total: Int)
    case emptyInput(path: String)
    case invalidSetting(name: String, reason: String)
    /// A setting or resource of a connected worker that cannot be used.
    case setting(String)
    /// The coordinator refused this worker.
    case refused(String)

    public var description: String {
        switch self {
        case .cannotWrite(let path):
            return "cannot write \(path)"
        case .outputIsInput(let path):
            return "\(path) is the input file too: choose another --output"
        case .invalidInput(let path, let errors, let total):
            var text =
                "\(path): \(total) invalid line\(total == 1 ? "" : "s") (nothing was embedded; --skip-invalid embeds the valid lines):"
            for error in errors { text += "\n  \(error)" }
            if total > errors.count { text += "\n  … and \(total - errors.count) more" }
            return text
        case .emptyInput(let path):
            return "\(path): no records to embed"
        case .invalidSetting(let name, let reason):
            return "\(name) \(reason)"
        case .setting(let message):
            return message
        case .refused(let reason):
            return "the coordinator refused this worker: \(reason)"
        }
    }
}
