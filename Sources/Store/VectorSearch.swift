import Corpus
import PostgresClient
import Retrieval

/// How a search finds its nearest neighbours.
public enum SearchMethod: Sendable, Equatable, CustomStringConvertible {
    /// A sequential scan: every vector compared, the ground truth.
    case exact
    /// The index's HNSW graph with this `hnsw.ef_search` (iterative scans on, so filters and
    /// k larger than ef_search still fill k results).
    case hnsw(efSearch: Int)

    public var description: String {
        switch self {
        case .exact: "exact"
        case .hnsw(let efSearch): "hnsw (ef_search \(efSearch))"
        }
    }
}

/// Nearest-neighbour search over an index's vectors with pgvector (cosine distance).
///
/// Owns its connection's search settings (`enable_indexscan`, `hnsw.ef_search`,
/// `hnsw.iterative_scan`) and sets them only when a search needs other values.
public final class VectorSearch {
    let connection: PostgresConnection
    private var method: SearchMethod?

    public init(_ connection: PostgresConnection) { self.connection = connection }

    /// The `k` documents of `index` nearest to `vector`, scored by cosine similarity (a query embedded by the index's
    /// model; its dimension must match), best first, among those matching every filter.
    /// Filters are part of the search: with HNSW, iterative index scans go on until k
    /// documents that match are found (or `hnsw.max_scan_tuples` were visited).
    public func search(
        _ index: IndexRecord,
        vector: [Float],
        k: Int,
        filters: [MetadataFilter] = [],
        method: SearchMethod
    ) throws(StoreError) -> [ScoredDocument] {
        guard vector.count == index.model.dimension else {
            throw .dimensionMismatch(table: index.vectorTable, expected: index.model.dimension, got: vector.count)
        }
        guard k > 0 else { throw .invalid("k must be at least 1, not \(k)") }
        try use(method == .exact || !index.hasHnsw ? .exact : method, k: k)
        var parameters: [String?] = [CopyText.vector(vector), String(k)]
        var sql = "SELECT v.doc_id, 1 - (v.embedding <=> $1::vector) AS score FROM \(index.vectorTable) v"
        if !filters.isEmpty {
            parameters.append(String(index.collectionId))
            sql += " JOIN documents d ON d.collection_id = $3 AND d.doc_id = v.doc_id WHERE "
            sql += filters.map { filter in
                parameters.append(filter.pathLiteral)
                parameters.append(filter.value)
                return "d.metadata #>> $\(parameters.count - 1)::text[] = $\(parameters.count)"
            }.joined(separator: " AND ")
        }
        sql += " ORDER BY v.embedding <=> $1::vector LIMIT $2"
        let rows = try connection.during("searching index \(index.name)") { try connection.execute(sql, parameters) }
        // Relaxed-order iterative scans may return near-ties out of order: sort by score, then id.
        return (0..<rows.count).map {
            ScoredDocument(id: rows.value($0, "doc_id")!, score: rows.double($0, "score") ?? 0)
        }
        .sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
    }

    /// Titles and the first `snippetLength` characters of the bodies of `ids` in `index`'s collection.
    public func documents(
        _ index: IndexRecord,
        ids: [String],
        snippetLength: Int = 160
    ) throws(StoreError) -> [String: (title: String, snippet: String, metadata: String)] {
        guard !ids.isEmpty else { return [:] }
        let rows = try connection.during("reading documents of index \(index.name)") {
            try connection.execute(
                """
                SELECT doc_id, title, left(body, $3) AS snippet, metadata::text AS metadata FROM documents
                WHERE collection_id = $1 AND doc_id = ANY($2::text[])
                """,
                [String(index.collectionId), CopyText.textArray(ids), String(snippetLength)]
            )
        }
        var found: [String: (title: String, snippet: String, metadata: String)] = [:]
        for row in 0..<rows.count {
            found[rows.value(row, "doc_id")!] = (
                rows.value(row, "title") ?? "", rows.value(row, "snippet") ?? "", rows.value(row, "metadata") ?? "{}"
            )
        }
        return found
    }

    /// The stored vectors of those of `ids` that `index` holds; with `current`, only those embedded from
    /// the version of the document that `current`'s collection holds now (same content hash).
    public func vectors(
        _ index: IndexRecord,
        ids: [String],
        current: IndexRecord? = nil
    ) throws(StoreError) -> [String: [Float]] {
        guard !ids.isEmpty else { return [:] }
        let rows = try connection.during("reading vectors of index \(index.name)") {
            if let current {
                try connection.execute(
                    """
                    SELECT v.doc_id, v.embedding::text FROM \(index.vectorTable) v
                    JOIN documents d ON d.collection_id = $2 AND d.doc_id = v.doc_id AND d.content_hash = v.content_hash
                        AND NOT d.deleted
                    WHERE v.doc_id = ANY($1::text[])
                    """,
                    [CopyText.textArray(ids), String(current.collectionId)]
                )
            } else {
                try connection.execute(
                    "SELECT doc_id, embedding::text FROM \(index.vectorTable) WHERE doc_id = ANY($1::text[])",
                    [CopyText.textArray(ids)]
                )
            }
        }
        var found: [String: [Float]] = [:]
        for row in 0..<rows.count {
            found[rows.value(row, "doc_id")!] = CopyText.parseVector(rows.value(row, "embedding") ?? "")
        }
        return found
    }

    /// The text a model embeds for each of `ids` (``Document/embeddingText``, as workers embed it) and its content hash.
    public func embeddingTexts(
        _ index: IndexRecord,
        ids: [String]
    ) throws(StoreError) -> [(id: String, text: String, hash: String)] {
        guard !ids.isEmpty else { return [] }
        let rows = try connection.during("reading documents of index \(index.name)") {
            try connection.execute(
                """
                SELECT doc_id, title, body, content_hash
                FROM documents WHERE collection_id = $1 AND doc_id = ANY($2::text[]) AND NOT deleted
                """,
                [String(index.collectionId), CopyText.textArray(ids)]
            )
        }
        return (0..<rows.count).map {
            (
                rows.value($0, "doc_id")!,
                Document.embeddingText(title: rows.value($0, "title") ?? "", text: rows.value($0, "body") ?? ""),
                rows.value($0, "content_hash") ?? ""
            )
        }
    }

    /// Those of `ids` (in `index`'s collection, not deleted) that `successor` holds no vector of the
    /// current version for (none, or one of another content hash: a document changed since), in id order.
    public func lacking(_ index: IndexRecord, ids: [String], in successor: IndexRecord) throws(StoreError) -> [String] {
        guard !ids.isEmpty else { return [] }
        let rows = try connection.during("reading documents of index \(index.name)") {
            try connection.execute(
                """
                SELECT d.doc_id FROM documents d
                WHERE d.collection_id = $1 AND d.doc_id = ANY($2::text[]) AND NOT d.deleted
                AND NOT \(VersionedWrite.hasCurrentVector("d", in: successor.vectorTable))
                ORDER BY d.doc_id
                """,
                [String(index.collectionId), CopyText.textArray(ids)]
            )
        }
        return (0..<rows.count).map { rows.value($0, "doc_id")! }
    }

    /// Writes vectors of `source`'s documents into `index` (a successor: documents embedded on demand),
    /// in one transaction with the documents themselves, so no vector lacks its document there. Each is
    /// written at its document's version, only while that version (its content hash) is current and
    /// only over an older one: a document changed or deleted meanwhile gets nothing.
    public func store(
        _ index: IndexRecord,
        vectors: [(id: String, vector: [Float], hash: String)],
        documentsOf source: IndexRecord
    ) throws(StoreError) {
        guard !vectors.isEmpty else { return }
        for entry in vectors where entry.vector.count != index.model.dimension {
            throw .dimensionMismatch(table: index.vectorTable, expected: index.model.dimension, got: entry.vector.count)
        }
        try connection.during("storing vectors into index \(index.name)") {
            try connection.transaction {
                // One table for the connection's life, emptied at each commit: made and dropped per
                // store (a re-scored query's), it wrote and deleted catalog rows each time.
                try connection.execute(
                    """
                    CREATE TEMPORARY TABLE IF NOT EXISTS embedded (doc_id text, embedding vector, content_hash text,
                        version bigint, title text, body text, metadata jsonb) ON COMMIT DELETE ROWS
                    """
                )
                try connection.execute(
                    """
                    INSERT INTO embedded (doc_id, embedding, content_hash, version, title, body, metadata)
                    SELECT d.doc_id, u.embedding, d.content_hash, d.version, d.title, d.body, d.metadata
                    FROM unnest($1::text[], $2::vector[], $3::text[]) AS u(doc_id, embedding, content_hash)
                    JOIN documents d ON d.collection_id = $4 AND d.doc_id = u.doc_id AND d.content_hash = u.content_hash
                        AND NOT d.deleted
                    """,
                    [
                        CopyText.textArray(vectors.map(\.id)),
                        CopyText.textArray(vectors.map { CopyText.vector($0.vector) }),
                        CopyText.textArray(vectors.map(\.hash)), String(source.collectionId),
                    ]
                )
                try connection.execute(
                    """
                    \(VersionedWrite.written(from: "embedded", collection: 1))
                    INSERT INTO \(index.vectorTable) AS v (doc_id, embedding, content_hash, version)
                    SELECT e.doc_id, e.embedding, e.content_hash, e.version
                    FROM embedded e JOIN written w ON w.doc_id = e.doc_id
                    ON CONFLICT (doc_id) DO UPDATE SET embedding = excluded.embedding, content_hash = excluded.content_hash,
                        version = excluded.version, embedded_at = now()
                    WHERE v.version < excluded.version
                    """,
                    [String(index.collectionId)]
                )
            }
        }
    }

    /// The ids of `size` documents of `index` that have a vector, chosen by a seeded hash of their
    /// ids (the same seed gives the same sample): `coord upgrade`'s sample.
    public func sample(_ index: IndexRecord, size: Int, seed: Int) throws(StoreError) -> [String] {
        let rows = try connection.during("sampling index \(index.name)") {
            try connection.execute(
                """
                SELECT d.doc_id FROM documents d JOIN \(index.vectorTable) v ON v.doc_id = d.doc_id
                WHERE d.collection_id = $1 AND NOT d.deleted ORDER BY md5(d.doc_id || ':' || $2), d.doc_id LIMIT $3
                """,
                [String(index.collectionId), String(seed), String(size)]
            )
        }
        return (0..<rows.count).map { rows.value($0, "doc_id")! }
    }

    /// Title and text of those of `ids` in `index`'s collection.
    public func texts(_ index: IndexRecord, ids: [String]) throws(StoreError) -> [String: (title: String, body: String)]
    {
        let rows = try connection.during("reading documents of index \(index.name)") {
            try connection.execute(
                "SELECT doc_id, title, body FROM documents WHERE collection_id = $1 AND doc_id = ANY($2::text[])",
                [String(index.collectionId), CopyText.textArray(ids)]
            )
        }
        return Dictionary(
            uniqueKeysWithValues: (0..<rows.count).map {
                (rows.value($0, "doc_id")!, (rows.value($0, "title") ?? "", rows.value($0, "body") ?? ""))
            }
        )
    }

    /// How many vectors `index` holds.
    public func vectorCount(_ index: IndexRecord) throws(StoreError) -> Int {
        try connection.during("counting vectors of index \(index.name)") {
            try connection.execute("SELECT count(*) FROM \(index.vectorTable)").scalar.flatMap { Int($0) } ?? 0
        }
    }

    /// Those of `ids` that have no vector in `index`.
    public func missing(_ index: IndexRecord, ids: Set<String>) throws(StoreError) -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let rows = try connection.during("looking up documents of index \(index.name)") {
            try connection.execute(
                """
                SELECT id FROM unnest($1::text[]) AS wanted(id)
                WHERE NOT EXISTS (SELECT 1 FROM \(index.vectorTable) v WHERE v.doc_id = wanted.id)
                """,
                [CopyText.textArray(ids.sorted())]
            )
        }
        return Set((0..<rows.count).compactMap { rows.value($0, "id") })
    }

    private func use(_ wanted: SearchMethod, k: Int) throws(StoreError) {
        let effective: SearchMethod =
            switch wanted {
            case .exact: .exact
            // Without iterative scans an HNSW scan returns at most ef_search rows.
            case .hnsw(let efSearch): .hnsw(efSearch: max(efSearch, min(k, 1000)))
            }
        guard effective != method else { return }
        try connection.during("setting search parameters") {
            switch effective {
            case .exact:
                try connection.executeScript("SET enable_indexscan = off")
            case .hnsw(let efSearch):
                try connection.executeScript(
                    "SET enable_indexscan = on; SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = \(efSearch)"
                )
            }
        }
        method = effective
    }
}
