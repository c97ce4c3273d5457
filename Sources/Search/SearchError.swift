import Embedding
import Retrieval
import Store

/// Why a search or an evaluation could not run; each case names the index, model, file or query at fault.
public enum SearchError: Error, CustomStringConvertible {
    case unknownIndex(String, known: [String])
    case modelMissing(model: String, folder: String)
    case modelUnreadable(model: String, folder: String, reason: String)
    /// The model folder's weights are not those the index was built with.
    case weightsDiffer(model: String, folder: String, registered: String, found: String)
    case emptyQuery(id: String?)
    case store(StoreError)
    case embedding(EmbeddingError)
    case input(RetrievalError)

    public var description: String {
        switch self {
        case .unknownIndex(let name, let known):
            "unknown index \"\(name)\"; indexes: \(known.isEmpty ? "none yet (index a corpus with `coord submit`)" : known.joined(separator: ", "))"
        case .modelMissing(let model, let folder):
            "model \(model) (which serves this index) not found in \(folder); pass --models DIR"
        case .modelUnreadable(let model, let folder, let reason): "model \(model) in \(folder): \(reason)"
        case .weightsDiffer(let model, let folder, let registered, let found):
            "model \(model) in \(folder) has weights \(found.prefix(12))…, but the index was built with \(registered.prefix(12))…: "
                + "its queries would not match the stored vectors"
        case .emptyQuery(let id): id.map { "query \($0) is empty" } ?? "the query is empty"
        case .store(let error): "\(error)"
        case .embedding(let error): "\(error)"
        case .input(let error): "\(error)"
        }
    }
}
