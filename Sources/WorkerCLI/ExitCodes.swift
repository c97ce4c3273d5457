import Corpus
import Worker

/// 65 (EX_DATAERR) for bad input lines, 1 for everything else (a file or
/// model that cannot be used).
func exitCode(for error: Error) -> Int32 {
    switch error {
    case let error as CorpusError: error.line == nil ? 1 : 65
    case let error as WorkerError:
        if case .invalidInput = error { 65 } else { 1 }
    default: 1
    }
}
