import PostgresClient
import Store

/// After an upgrade: promote (serve the successor's own vectors once it holds every document's
/// current version), gc (the successor becomes the index; no way back after), and rollback (the
/// serving state before the last switch, never across a gc). Each switch checks the state it
/// needs inside its own transaction (``ServingStore``); these name what to switch and explain refusals.
public struct IndexLifecycle {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) { self.connection = connection }

    /// Promotes `name` to its successor of `modelName` (nil: the model it serves now). Returns the successor.
    public func promote(_ name: String, to modelName: String?) throws(StoreError) -> IndexRecord {
        let catalog = Catalog(connection)
        guard let record = try catalog.index(named: name) else { throw StoreError.unknownIndex(name) }
        let current = try ServingStore(connection).current(record)
        let modelName = modelName ?? current.model.name
        guard let model = try catalog.model(named: modelName) else {
            throw StoreError.unknownModel(modelName, known: try catalog.models().map(\.name))
        }
        guard model.name != record.model.name else {
            throw StoreError.invalid(
                "index \(name) is embedded by \(model.name) already: nothing to promote (pass --to MODEL)"
            )
        }
        let successorName = ServingState.successorName(of: name, model: model.name)
        guard let successor = try catalog.index(named: successorName) else {
            throw StoreError.invalid(
                "no successor index \(successorName): `coord reindex --index \(name) --to \(model.name)` first"
            )
        }
        try ServingStore(connection).promote(record, to: successor)
        return successor
    }

    /// Frees the old generation of a promoted index (or reports what would be freed).
    public func collectGarbage(_ name: String, dryRun: Bool) throws(StoreError) -> (IndexRecord, ServingStore.Garbage) {
        guard let record = try Catalog(connection).index(named: name) else { throw StoreError.unknownIndex(name) }
        return (record, try ServingStore(connection).collectGarbage(record, dryRun: dryRun))
    }

    /// Restores the serving state before the last switch.
    public func rollback(_ name: String) throws(StoreError) -> ServingState {
        guard let record = try Catalog(connection).index(named: name) else { throw StoreError.unknownIndex(name) }
        return try ServingStore(connection).rollback(record)
    }
}
