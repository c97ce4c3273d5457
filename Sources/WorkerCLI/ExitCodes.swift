import Corpus
import Worker

/// 65 (EX_DATAERR) for bad input data, 1 for everything else.
func exitCode(for error: Error) -> Int32 {
    switch error {
    case is CorpusError: 65
    case let error as WorkerError:
        if case .invalidInput = error { 65 } else { 1 }
    default: 1
    }
}
