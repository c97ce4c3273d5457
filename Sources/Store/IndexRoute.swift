import PostgresClient

/// Where documents submitted to an index go. An index keeps its name through its upgrades; what
/// changes is its *serving generation*, the vectors its queries read. A submission is embedded
/// for that generation first and then, as a follow-up job, for every other generation still
/// alive, so none of them falls behind:
///
/// | serving state                     | embedded first for           | then for                        |
/// |-----------------------------------|------------------------------|---------------------------------|
/// | native (never upgraded, or gc'd)  | the index                    | —                               |
/// | project, fuse, rescore            | the index (its stored model) | the successor `INDEX@MODEL`     |
/// | promoted                          | the successor                | the index (for a rollback, until `coord gc`) |
public struct IndexRoute: Sendable, Equatable {
    /// The generation whose vectors the submission is embedded into first.
    public var target: IndexRecord
    /// The other live generations: follow-up jobs once the first is done.
    public var then: [IndexRecord]
    /// How the index serves (native for a new index).
    public var serving: ServingState

    /// Routes a submission to index `name`. `model` (optional for an existing index) must be the
    /// target generation's; a new index is created with it.
    public static func resolve(
        _ name: String,
        model: String?,
        storage: VectorStorage? = nil,
        instruction: String? = nil,
        connection: PostgresConnection
    ) throws(StoreError) -> IndexRoute {
        let catalog = Catalog(connection)
        let model = model.flatMap { $0.isEmpty ? nil : $0 }
        guard let index = try catalog.index(named: name) else {
            guard let model else {
                throw .invalid("index \(name) does not exist: pass --model MODEL to create it")
            }
            let created = try catalog.index(named: name, model: model, storage: storage, instruction: instruction)
            return IndexRoute(target: created, then: [], serving: ServingState(mode: .native, model: created.model))
        }
        try index.require(storage: storage)
        try index.require(instruction: instruction)
        let serving = try ServingStore(connection).current(index)
        // A successor a re-index is filling (before any upgrade serves from it) follows too.
        let filling = try fillingSuccessors(of: index, connection: connection)[index.id] ?? []
        let route = try route(index, serving: serving, filling: filling) { name throws(StoreError) in
            try catalog.index(named: name)
        }
        if let model, model != route.target.model.name {
            throw .invalid(
                "index \(name) takes documents embedded by \(route.target.model.name) (it serves \(serving.mode.rawValue) with \(serving.model.name)), not \(model): submit without --model, or with --model \(route.target.model.name)"
            )
        }
        return route
    }

    /// The route of `index` that serves as `serving`, with `filling` the successors a re-index is
    /// filling (by name) and `record` looking an index up by name.
    private static func route(
        _ index: IndexRecord,
        serving: ServingState,
        filling: [String],
        record: (String) throws(StoreError) -> IndexRecord?
    ) throws(StoreError) -> IndexRoute {
        let successor = try serving.successorIndex.flatMap { name throws(StoreError) in try record(name) }
        var route =
            switch (serving.mode, successor) {
            case (.promoted, let successor?): IndexRoute(target: successor, then: [index], serving: serving)
            case (_, let successor?): IndexRoute(target: index, then: [successor], serving: serving)
            case (_, nil): IndexRoute(target: index, then: [], serving: serving)
            }
        for name in filling {
            guard name != route.target.name, !route.then.contains(where: { $0.name == name }),
                let successor = try record(name)
            else { continue }
            route.then.append(successor)
        }
        return route
    }

    /// The successors with a job receiving or running (a re-index filling them), by name, keyed
    /// by their predecessor's id: of `index`, or of every index when nil.
    private static func fillingSuccessors(
        of index: IndexRecord?,
        connection: PostgresConnection
    ) throws(StoreError) -> [Int64: [String]] {
        let whose = index.map { "index \($0.name)" } ?? "every index"
        let rows = try connection.during("reading the successors being filled of \(whose)") {
            try connection.execute(
                """
                SELECT DISTINCT s.predecessor_id, s.name FROM indexes s JOIN jobs j ON j.index_id = s.id
                WHERE s.predecessor_id IS NOT NULL AND ($1::bigint IS NULL OR s.predecessor_id = $1)
                    AND j.state IN ('receiving', 'running')
                ORDER BY s.predecessor_id, s.name
                """,
                [index.map { String($0.id) }]
            )
        }
        var filling: [Int64: [String]] = [:]
        for row in 0..<rows.count {
            guard let predecessor = rows.int(row, "predecessor_id"), let name = rows.value(row, "name") else {
                continue
            }
            filling[Int64(predecessor), default: []].append(name)
        }
        return filling
    }

    /// Every index by name with its route, except successors (`INDEX@MODEL`), which are generations
    /// of another. Three statements however many indexes there are: a `coord status` answer
    /// reads it, and each statement can wait for the CPU behind a busy machine's workers.
    public static func all(connection: PostgresConnection) throws(StoreError) -> [(name: String, route: IndexRoute)] {
        let indexes = try Catalog(connection).indexes()
        let servings = try ServingStore(connection).currentStates()
        let filling = try fillingSuccessors(of: nil, connection: connection)
        let byName = Dictionary(indexes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var routes: [(name: String, route: IndexRoute)] = []
        for index in indexes {
            let serving = servings[index.id] ?? ServingState(mode: .native, model: index.model)
            routes.append(
                (index.name, try route(index, serving: serving, filling: filling[index.id] ?? []) { byName[$0] })
            )
        }
        let successors = Set(
            routes.flatMap { entry in ([entry.route.target] + entry.route.then).map(\.name).filter { $0 != entry.name }
            }
        )
        return routes.filter { !successors.contains($0.name) }
    }
}
