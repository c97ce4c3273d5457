/// What every write of documents with their vectors does, in one transaction (a worker's shard
/// commit, vectors embedded on demand): each document row at its version, then its vector only
/// where that row's write won — never over a newer version or a deletion (migrations 0008, 0009).
enum VersionedWrite {
    /// Upserts the documents of table `source` (doc_id, title, body, metadata, content_hash, version)
    /// into the collection given as parameter `$collection`, each over an older version only.
    static func documents(from source: String, collection: Int) -> String {
        """
        INSERT INTO documents AS d (collection_id, doc_id, title, body, metadata, content_hash, version)
        SELECT $\(collection), doc_id, title, body, metadata, content_hash, version FROM \(source)
        ON CONFLICT (collection_id, doc_id) DO UPDATE SET title = excluded.title, body = excluded.body,
            metadata = excluded.metadata, content_hash = excluded.content_hash, updated_at = now(),
            version = excluded.version, deleted = false
        WHERE d.version <= excluded.version
        """
    }

    /// True for a document row `alias` (doc_id, content_hash) whose current version has a vector in
    /// `table` (another generation: the same content hash; one of another hash is of an older version).
    static func hasCurrentVector(_ alias: String, in table: String) -> String {
        "EXISTS (SELECT 1 FROM \(table) s WHERE s.doc_id = \(alias).doc_id AND s.content_hash = \(alias).content_hash)"
    }

    /// True for a row `alias` (doc_id, version) whose document write won: the collection (parameter
    /// `$collection`) holds no newer version of it, nor a deletion.
    static func won(_ alias: String, collection: Int) -> String {
        """
        NOT EXISTS (
            SELECT 1 FROM documents d WHERE d.collection_id = $\(collection) AND d.doc_id = \(alias).doc_id
                AND d.version > \(alias).version)
        """
    }
}
