/// What every write of documents with their vectors does, in one transaction (a worker's shard
/// commit, vectors embedded on demand): each document row at its version, then its vector only
/// where that row's write won — never over a newer version or a deletion (migrations 0008, 0009).
enum VersionedWrite {
    /// `WITH written AS (…)`: upserts the documents of table `source` (doc_id, title, body, metadata,
    /// content_hash, version) into the collection given as parameter `$collection`, each over an
    /// older version only, and names the ids whose write won (`written.doc_id`): the statement it
    /// begins writes their vectors, joined on it, and no other.
    ///
    /// The documents are not looked up a second time to find which writes won: an anti-join
    /// against `documents` was planned, while a collection's statistics still said it was empty,
    /// as a scan of the whole collection per shard commit (PostgreSQL's CPU went there).
    static func written(from source: String, collection: Int) -> String {
        """
        WITH written AS (
            INSERT INTO documents AS d (collection_id, doc_id, title, body, metadata, content_hash, version)
            SELECT $\(collection), doc_id, title, body, metadata, content_hash, version FROM \(source)
            ON CONFLICT (collection_id, doc_id) DO UPDATE SET title = excluded.title, body = excluded.body,
                metadata = excluded.metadata, content_hash = excluded.content_hash, updated_at = now(),
                version = excluded.version, deleted = false
            WHERE d.version <= excluded.version
            RETURNING d.doc_id
        )
        """
    }

    /// True for a document row `alias` (doc_id, content_hash) whose current version has a vector in
    /// `table` (another generation: the same content hash; one of another hash is of an older version).
    static func hasCurrentVector(_ alias: String, in table: String) -> String {
        "EXISTS (SELECT 1 FROM \(table) s WHERE s.doc_id = \(alias).doc_id AND s.content_hash = \(alias).content_hash)"
    }
}
