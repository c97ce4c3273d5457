import Compat
import Embedding
import PostgresClient
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
    /// Queries of one model cannot search vectors of another without a projection.
    case dimensionsDiffer(index: String, indexModel: ModelRecord, queryModel: ModelRecord)
    case noProjection(index: String, model: String)
    case projection(CompatError)
    case store(StoreError)
    case embedding(EmbeddingError)
    case input(RetrievalError)

    /// The generation this search read was dropped meanwhile (`coord gc` made its successor the index):
    /// open the index again and it reads the current one.
    public var isGenerationGone: Bool {
        if case .store(.database(let error, _)) = self { return error.sqlState == "42P01" }
        return false
    }

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
        case .dimensionsDiffer(let index, let indexModel, let queryModel):
            indexModel.dimension != queryModel.dimension
                ? "index \(index) holds \(indexModel.dimension)-d vectors of \(indexModel.name); \(queryModel.name) makes \(queryModel.dimension)-d queries: "
                    + "the dimensions differ, so it can only search through a projection (`coord upgrade --index \(index) --to \(queryModel.name)`)"
                : "index \(index) holds vectors of \(indexModel.name), not \(queryModel.name): searching it with another model's queries "
                    + "without a projection would return unrelated documents (`coord upgrade --index \(index) --to \(queryModel.name)`)"
        case .noProjection(let index, let model):
            "index \(index) has no projection or successor vectors for \(model) (`coord upgrade --index \(index) --to \(model)`)"
        case .projection(let error): "\(error)"
        case .store(let error): "\(error)"
        case .embedding(let error): "\(error)"
        case .input(let error): "\(error)"
        }
    }
}

extension SearchError {
    /// Runs `body`, turning the errors of the modules below into this one.
    package static func mapping<T>(_ body: () throws -> T) throws(SearchError) -> T {
        do { return try body() } catch let error as SearchError {
            throw error
        } catch let error as StoreError {
            throw .store(error)
        } catch let error as CompatError {
            throw .projection(error)
        } catch let error as PostgresError {
            throw .store(.database(error, during: "searching"))
        } catch {
            throw .store(.invalid("\(error)"))
        }
    }
}

extension Catalog {
    /// The index named `name`, or an error listing the indexes there are.
    package func existingIndex(named name: String) throws -> IndexRecord {
        guard let index = try index(named: name) else {
            throw SearchError.unknownIndex(name, known: try indexes().map(\.name))
        }
        return index
    }
}
