import Corpus
import Foundation
import JobStates
import PostgresClient

/// The coordinator's durable state: jobs, their staged documents, shards and
/// leases. Every transition is a statement (or a transaction) here, so a
/// restarted coordinator resumes from the database alone.
public struct JobStore {
    let connection: PostgresConnection

    public init(_ connection: PostgresConnection) { self.connection = connection }

    // MARK: Submission

    /// A receiving job for `index`; once it is done, its documents are copied into a follow-up job
    /// for each index of `then` (the other live generations of the same index, see ``IndexRoute``).
    /// A follow-up job names the job it `follows`.
    public func createJob(
        index: IndexRecord,
        source: String,
        shardSize: Int,
        then: [IndexRecord] = [],
        follows: Int64? = nil,
        mirror: Bool = false,
        skipInvalid: Bool = false
    ) throws(StoreError) -> Int64 {
        let id = try connection.during("creating a job for index \(index.name)") {
            try connection.execute(
                """
                INSERT INTO jobs (index_id, state, source, shard_size, then_index_ids, follows_job_id, mirror, skip_invalid)
                VALUES ($1, 'receiving', $2, $3, $4::bigint[], $5, $6, $7) RETURNING id
                """,
                [
                    String(index.id), source, String(shardSize),
                    "{\(then.map { String($0.id) }.joined(separator: ","))}",
                    follows.map(String.init), mirror ? "true" : "false", skipInvalid ? "true" : "false",
                ]
            ).scalar
        }
        return Int64(id!)!
    }

    /// Appends documents to a receiving job (COPY); numbers them from `firstSeq`. A document whose
    /// id an earlier one of the job carries is a duplicate, found here with the job's id index (so
    /// no process holds the corpus's ids): a job submitted with `skipInvalid` drops it and records
    /// it as rejected (returned), any other job's staging fails naming both lines.
    @discardableResult
    public func stage(job: Int64, firstSeq: Int, documents: [Document]) throws(StoreError) -> [Rejection] {
        var copy = CopyText()
        for (offset, document) in documents.enumerated() {
            copy.appendRow([
                String(job), String(firstSeq + offset), String(document.line), document.id, document.title,
                document.text,
                document.metadata,
                ContentHash.of(title: document.title, text: document.text, metadata: document.metadata),
            ])
        }
        return try connection.during("staging documents of job \(job)") {
            try connection.transaction {
                // Read without a lock; the state is checked again under the job's row lock at the end.
                let row = try connection.execute(
                    "SELECT state, skip_invalid, source FROM jobs WHERE id = $1",
                    [String(job)]
                )
                try Self.expectReceiving(job, row.isEmpty ? nil : row.rows[0][0].flatMap(JobState.init(rawValue:)))
                // One table for the connection's life, emptied at each commit. Made and dropped per
                // chunk, it wrote and deleted catalog rows 13,000 times in a 10,000,000-document
                // upload, and one chunk's COMMIT (the drop's only locks are the catalog's) waited
                // past its lock timeout during a checkpoint; autovacuum truncating a catalog table
                // is the likely holder.
                try connection.execute(
                    """
                    CREATE TEMPORARY TABLE IF NOT EXISTS staging (job_id bigint, seq integer, line integer,
                        doc_id text, title text, body text, metadata text, content_hash text) ON COMMIT DELETE ROWS
                    """
                )
                try connection.copyIn(
                    "COPY staging (job_id, seq, line, doc_id, title, body, metadata, content_hash) FROM STDIN",
                    data: copy.data
                )
                // The unique (job_id, doc_id) index finds an id staged before (earlier in the job or
                // in this chunk, in seq order): that row is not inserted.
                let kept = try connection.execute(
                    """
                    INSERT INTO job_documents (job_id, seq, line, doc_id, title, body, metadata, content_hash)
                    SELECT job_id, seq, line, doc_id, title, body, metadata, content_hash FROM staging ORDER BY seq
                    ON CONFLICT (job_id, doc_id) DO NOTHING RETURNING seq
                    """
                )
                let rejected = try rejectDuplicates(
                    job: job,
                    of: documents,
                    from: firstSeq,
                    kept: Set((0..<kept.count).compactMap { kept.int($0, "seq") }),
                    source: row.rows[0][2] ?? "the corpus",
                    skip: row.rows[0][1] == "t"
                )
                // The job's row is locked only now, for the commit: a cancel or an abandon waits for
                // that, not for the chunk's writing (seconds behind a checkpoint). One that came first
                // failed the job: the state says so here and the chunk rolls back.
                try Self.expectReceiving(job, try StateRows.job(job, connection))
                try connection.execute(
                    "UPDATE jobs SET submitted_docs = submitted_docs + $2 WHERE id = $1",
                    [String(job), String(documents.count - rejected.count)]
                )
                return rejected
            }
        }
    }

    /// The job is receiving; otherwise the error names its state.
    private static func expectReceiving(_ job: Int64, _ state: JobState?) throws(StoreError) {
        guard state == .receiving else {
            throw StoreError.invalid(
                "job \(job) is not receiving documents (state \(state.map(\.rawValue) ?? "unknown"))"
            )
        }
    }

    /// A staged document dropped at staging (a duplicate id).
    public struct Rejection: Sendable, Equatable {
        public var line: Int
        public var docId: String
        public var error: String
    }

    /// The documents of a staged chunk (seqs from `firstSeq`) whose seq is not in `kept`: each
    /// carries an id the job staged before. Recorded as rejected when `skip`, else the staging
    /// fails, naming both lines.
    private func rejectDuplicates(
        job: Int64,
        of documents: [Document],
        from firstSeq: Int,
        kept: Set<Int>,
        source: String,
        skip: Bool
    ) throws -> [Rejection] {
        let duplicates = documents.enumerated().filter { !kept.contains(firstSeq + $0.offset) }.map(\.element)
        guard !duplicates.isEmpty else { return [] }
        let first = try connection.execute(
            "SELECT doc_id, line FROM job_documents WHERE job_id = $1 AND doc_id = ANY($2::text[])",
            [String(job), CopyText.textArray(duplicates.map(\.id))]
        )
        let firstLine = Dictionary(first.rows.map { ($0[0] ?? "", Int($0[1] ?? "0") ?? 0) }) { a, _ in a }
        let rejections = duplicates.map { document in
            let error = CorpusError.duplicateId(
                path: source,
                line: document.line,
                id: document.id,
                firstLine: firstLine[document.id] ?? 0
            )
            return Rejection(line: document.line, docId: document.id, error: error.description)
        }
        guard skip else {
            let shown = rejections.prefix(5).map(\.error).joined(separator: "; ")
            throw StoreError.invalid(
                rejections.count > 5 ? "\(shown); … and \(rejections.count - 5) more duplicates" : shown
            )
        }
        for rejection in rejections {
            try connection.execute(
                "INSERT INTO rejected_documents (job_id, line, doc_id, error) VALUES ($1, $2, $3, $4)",
                [String(job), String(rejection.line), rejection.docId, rejection.error]
            )
        }
        return rejections
    }

    /// Stages into a receiving job the documents of `index` that `successor` holds no vector of the
    /// current version for (of `ids`, or all), read from the database at their versions and with their
    /// content hashes: a document changed or deleted meanwhile is staged as it is now, or not at all.
    /// Returns how many were staged.
    public func stageForSuccessor(
        job: Int64,
        index: IndexRecord,
        successor: IndexRecord,
        ids: [String]?
    ) throws(StoreError) -> Int {
        try connection.during("staging documents of \(index.name) for \(successor.name) (job \(job))") {
            try connection.transaction {
                let staged = try connection.execute(
                    """
                    INSERT INTO job_documents (job_id, seq, line, doc_id, title, body, metadata, content_hash, version)
                    SELECT $1, (row_number() OVER (ORDER BY d.doc_id) - 1)::int, (row_number() OVER (ORDER BY d.doc_id))::int,
                        d.doc_id, d.title, d.body, d.metadata::text, d.content_hash, d.version
                    FROM documents d WHERE d.collection_id = $2 AND NOT d.deleted
                        AND ($3::text[] IS NULL OR d.doc_id = ANY($3::text[]))
                        AND NOT \(VersionedWrite.hasCurrentVector("d", in: successor.vectorTable))
                    """,
                    [String(job), String(index.collectionId), ids.map(CopyText.textArray)]
                ).affected
                try connection.execute(
                    "UPDATE jobs SET submitted_docs = $2 WHERE id = $1",
                    [String(job), String(staged)]
                )
                return staged
            }
        }
    }

    public func recordRejected(job: Int64, line: Int?, docId: String?, error: String) throws(StoreError) {
        try connection.during("recording a rejected document of job \(job)") {
            try connection.execute(
                "INSERT INTO rejected_documents (job_id, line, doc_id, error) VALUES ($1, $2, $3, $4)",
                [String(job), line.map(String.init), docId, error]
            )
        }
    }

    /// Closes a job's submission in one go (``sealStep`` over every document, then ``startJob``).
    public func seal(
        job: Int64,
        index: IndexRecord,
        shardSize: Int,
        staged: Int
    ) throws(StoreError) -> (shards: Int, toEmbed: Int, unchanged: Int, deleted: Int?) {
        if staged > 0 { _ = try sealStep(job: job, index: index, from: 0, through: staged - 1, shardSize: shardSize) }
        return try startJob(job: job)
    }

    /// What a seal step did: documents dropped as unchanged, shards cut.
    public struct SealStepCounts: Sendable, Equatable {
        public var unchanged: Int
        public var shards: Int

        public init(unchanged: Int, shards: Int) {
            self.unchanged = unchanged
            self.shards = shards
        }
    }

    /// One bounded step of closing a job's submission, over the documents numbered `from`
    /// through `through`: drops those whose identical version is already in the index, or staged
    /// by another running job of the same index (a re-submission while the first is still
    /// running embeds nothing twice), and cuts the rest into shards. One transaction; the job
    /// stays `receiving` until ``startJob``. Returns how many were dropped and shards made; a step
    /// already done (its shards are there) does nothing.
    /// The first step of a `--mirror` job first deletes what the file lacks (``DocumentDeletion/deleteAbsent(job:)``).
    public func sealStep(
        job: Int64,
        index: IndexRecord,
        from: Int,
        through: Int,
        shardSize: Int
    ) throws(StoreError) -> SealStepCounts {
        try connection.during("sealing job \(job) (documents \(from)–\(through))") {
            try connection.transaction {
                // Read without a lock; checked again under the job's row lock at the end, so a
                // cancel waits for the step's commit only, not for its work (it runs off the loop).
                let row = try connection.execute("SELECT state, mirror FROM jobs WHERE id = $1", [String(job)])
                try Self.expectSealing(job, row.isEmpty ? nil : row.rows[0][0].flatMap(JobState.init(rawValue:)))
                // Done already: a step whose commit went through but whose answer was lost (the
                // connection broke) is tried again, and would cut its documents into shards twice.
                let done = try connection.execute(
                    "SELECT 1 FROM shards WHERE job_id = $1 AND first_seq BETWEEN $2 AND $3 LIMIT 1",
                    [String(job), String(from), String(through)]
                )
                guard done.isEmpty else { return SealStepCounts(unchanged: 0, shards: 0) }
                if from == 0 && row.rows[0][1] == "t" { try DocumentDeletion(connection).deleteAbsent(job: job) }
                let step = try cut(job: job, index: index, from: from, through: through, shardSize: shardSize)
                try Self.expectSealing(job, try StateRows.job(job, connection))
                return step
            }
        }
    }

    private static func expectSealing(_ job: Int64, _ state: JobState?) throws(StoreError) {
        guard state == .receiving else {
            throw .invalid("job \(job) is not being sealed (state \(state.map(\.rawValue) ?? "unknown"))")
        }
    }

    /// ``sealStep(job:index:from:through:shardSize:)``'s work, inside the caller's transaction.
    private func cut(
        job: Int64,
        index: IndexRecord,
        from: Int,
        through: Int,
        shardSize: Int
    ) throws -> SealStepCounts {
        let unchanged =
            try connection.execute(
                """
                WITH gone AS (
                    DELETE FROM job_documents j
                    WHERE j.job_id = $1 AND j.seq BETWEEN $3 AND $4 AND (
                        EXISTS (SELECT 1 FROM \(index.vectorTable) v WHERE v.doc_id = j.doc_id AND v.content_hash = j.content_hash)
                        OR EXISTS (
                            -- staged by a running job whose commit will win over what the index holds
                            SELECT 1 FROM job_documents o JOIN jobs oj ON oj.id = o.job_id
                            WHERE oj.index_id = $2 AND oj.state = 'running' AND oj.id <> $1
                              AND o.doc_id = j.doc_id AND o.content_hash = j.content_hash
                              AND o.version > coalesce(
                                  (SELECT v.version FROM \(index.vectorTable) v WHERE v.doc_id = j.doc_id), 0)))
                    -- but never while another running job carries a different version: this one,
                    -- the newest, must then be committed to win
                    AND NOT EXISTS (
                        SELECT 1 FROM job_documents n JOIN jobs nj ON nj.id = n.job_id
                        WHERE nj.index_id = $2 AND nj.state = 'running' AND nj.id <> $1
                          AND n.doc_id = j.doc_id AND n.content_hash <> j.content_hash)
                    RETURNING 1)
                SELECT count(*) FROM gone
                """,
                [String(job), String(index.id), String(from), String(through)]
            ).scalar.flatMap { Int($0) } ?? 0
        let shards = try connection.execute(
            """
            INSERT INTO shards (job_id, first_seq, last_seq, doc_count, state)
            SELECT $1, min(seq), max(seq), count(*), 'pending'
            FROM (SELECT seq, (row_number() OVER (ORDER BY seq) - 1) / $2 AS bucket
                  FROM job_documents WHERE job_id = $1 AND seq BETWEEN $3 AND $4) numbered
            GROUP BY bucket ORDER BY min(seq)
            """,
            [String(job), String(shardSize), String(from), String(through)]
        ).affected
        try connection.execute(
            "UPDATE jobs SET unchanged_docs = unchanged_docs + $2 WHERE id = $1",
            [String(job), String(unchanged)]
        )
        return SealStepCounts(unchanged: unchanged, shards: shards)
    }

    /// The last step of sealing: the job starts running. Returns its shards, the documents to
    /// embed and those dropped as unchanged.
    public func startJob(job: Int64) throws(StoreError) -> (shards: Int, toEmbed: Int, unchanged: Int, deleted: Int?) {
        try connection.during("starting job \(job)") {
            let row = try connection.execute(
                """
                UPDATE jobs SET state = 'running', started_at = now() WHERE id = $1 AND state = 'receiving'
                RETURNING unchanged_docs,
                    (SELECT count(*) FROM shards WHERE job_id = $1),
                    (SELECT coalesce(sum(doc_count), 0) FROM shards WHERE job_id = $1),
                    CASE WHEN mirror THEN deleted_docs END
                """,
                [String(job)]
            )
            guard row.count == 1 else { throw StoreError.invalid("job \(job) is not being sealed") }
            return (
                Int(row.rows[0][1] ?? "0") ?? 0, Int(row.rows[0][2] ?? "0") ?? 0, Int(row.rows[0][0] ?? "0") ?? 0,
                row.rows[0][3].flatMap { Int($0) }
            )
        }
    }

    /// Fails a job that is still receiving; returns whether it did. Nothing happens to a job that
    /// is no longer receiving. Its staged documents go in bounded steps afterwards
    /// (``dropStaged(job:seqs:)``), as a finished job's do: an upload abandoned at a
    /// million rows deleted in one statement held the coordinator for seconds.
    @discardableResult
    public func abandonUpload(job: Int64, error: String) throws(StoreError) -> Bool {
        try connection.during("abandoning the upload of job \(job)") {
            try connection.transaction {
                let failed = try connection.execute(
                    """
                    UPDATE jobs SET state = 'failed', finished_at = now(), error = $2
                    WHERE id = $1 AND state = 'receiving'
                    """,
                    [String(job), error]
                ).affected
                guard failed == 1 else { return false }
                try connection.execute("DELETE FROM shards WHERE job_id = $1", [String(job)])
                return true
            }
        }
    }

    /// What ``cancel(job:reason:)`` did.
    public enum Cancellation: Sendable, Equatable {
        /// Cancelled: shards committed before stay, the open ones were dropped with their staged documents.
        case cancelled(committedShards: Int, droppedShards: Int)
        /// Not receiving or running (or unknown: nil): nothing changed.
        case refused(state: JobState?)
    }

    /// Stops a receiving or running job in one transaction: the job becomes `cancelled`, its open shards
    /// `failed` (their leases deleted, so a commit in flight is fenced). Its staged documents, which
    /// nothing reads any more, go in bounded steps afterwards (``dropStaged(job:seqs:)``).
    /// Committed shards stay: each wrote its documents with their vectors atomically.
    public func cancel(job: Int64, reason: String) throws(StoreError) -> Cancellation {
        try connection.during("cancelling job \(job)") {
            try connection.transaction {
                let state = try StateRows.job(job, connection)
                guard state == .receiving || state == .running else { return .refused(state: state) }
                try connection.execute(
                    "UPDATE jobs SET state = 'cancelled', finished_at = now(), error = $2 WHERE id = $1",
                    [String(job), reason]
                )
                try connection.execute(
                    """
                    DELETE FROM shard_leases l USING shards s WHERE s.id = l.shard_id AND s.job_id = $1
                    """,
                    [String(job)]
                )
                let dropped = try connection.execute(
                    """
                    UPDATE shards SET state = 'failed', error = 'the job was cancelled', finished_at = now()
                    WHERE job_id = $1 AND state IN ('pending', 'leased')
                    """,
                    [String(job)]
                ).affected
                let committed =
                    Int(
                        try connection.execute(
                            "SELECT count(*) FROM shards WHERE job_id = $1 AND state = 'done'",
                            [String(job)]
                        ).scalar ?? "0"
                    ) ?? 0
                return .cancelled(committedShards: committed, droppedShards: dropped)
            }
        }
    }

    // MARK: Restart

    /// Jobs left in `receiving` by a coordinator that stopped mid-submission: failed, to be submitted
    /// again. Their staged documents go in bounded steps once the coordinator runs.
    public func failInterruptedSubmissions() throws(StoreError) -> Int {
        try connection.during("closing interrupted submissions") {
            try connection.execute(
                """
                WITH failed AS (
                    UPDATE jobs SET state = 'failed', finished_at = now(),
                        error = 'the coordinator stopped while the job was being submitted; submit it again'
                    WHERE state = 'receiving' RETURNING id),
                cut AS (DELETE FROM shards WHERE job_id IN (SELECT id FROM failed))
                SELECT count(*) FROM failed
                """
            ).scalar.flatMap { Int($0) } ?? 0
        }
    }

    /// Jobs whose shards are being dealt.
    public func runningJobs() throws(StoreError) -> [JobRecord] { try jobs(inState: .running) }

    /// Jobs whose shards are all done, waiting for their index's HNSW index.
    public func indexingJobs() throws(StoreError) -> [JobRecord] { try jobs(inState: .indexing) }

    private func jobs(inState state: JobState) throws(StoreError) -> [JobRecord] {
        let rows = try connection.during("reading \(state) jobs") {
            try connection.execute(
                """
                SELECT j.id AS job_id, j.state, \(Catalog.indexColumns)
                FROM jobs j JOIN indexes i ON i.id = j.index_id JOIN models m ON m.id = i.model_id
                WHERE j.state = $1 ORDER BY j.id
                """,
                [state.rawValue]
            )
        }
        return (0..<rows.count).map { row in
            JobRecord(
                id: Int64(rows.int(row, "job_id")!),
                index: Catalog.index(rows, row),
                state: state
            )
        }
    }

    /// Shards of a job still to do (pending or leased), in order.
    public func openShards(job: Int64) throws(StoreError) -> [ShardRecord] {
        let rows = try connection.during("reading shards of job \(job)") {
            try connection.execute(
                """
                SELECT id, first_seq, last_seq, doc_count, attempts FROM shards
                WHERE job_id = $1 AND state IN ('pending', 'leased') ORDER BY first_seq
                """,
                [String(job)]
            )
        }
        return (0..<rows.count).map { row in
            ShardRecord(
                id: Int64(rows.int(row, "id")!),
                job: job,
                firstSeq: rows.int(row, "first_seq")!,
                lastSeq: rows.int(row, "last_seq")!,
                documentCount: rows.int(row, "doc_count")!,
                attempts: rows.int(row, "attempts")!
            )
        }
    }

    /// Leases in the database for a job's open shards.
    public func leases(job: Int64) throws(StoreError) -> [LeaseRecord] {
        let rows = try connection.during("reading leases of job \(job)") {
            try connection.execute(
                """
                SELECT l.token, l.shard_id, l.worker FROM shard_leases l JOIN shards s ON s.id = l.shard_id
                WHERE s.job_id = $1 AND s.state = 'leased'
                """,
                [String(job)]
            )
        }
        return (0..<rows.count).map {
            LeaseRecord(
                token: Int64(rows.int($0, "token")!),
                shard: Int64(rows.int($0, "shard_id")!),
                worker: rows.value($0, "worker")!
            )
        }
    }

    // MARK: Dealing

    /// Grants a new lease on `shard` to `worker`; nil when the shard is no longer open.
    public func grantLease(shard: Int64, worker: String) throws(StoreError) -> Int64? {
        try connection.during("leasing shard \(shard)") {
            try connection.transaction {
                guard try StateRows.shard(shard, connection)?.isOpen == true else { return nil }
                try connection.execute(
                    "UPDATE shards SET state = 'leased', attempts = attempts + 1, worker = $2 WHERE id = $1",
                    [String(shard), worker]
                )
                return try connection.execute(
                    "INSERT INTO shard_leases (shard_id, worker) VALUES ($1, $2) RETURNING token",
                    [String(shard), worker]
                ).scalar.flatMap { Int64($0) }
            }
        }
    }

    /// What happened to a shard whose lease was revoked.
    public enum Revocation: Sendable, Equatable {
        /// The shard has no lease left and waits to be dealt again.
        case pending
        /// Another lease still holds it (a speculative copy).
        case stillLeased
        /// It was committed meanwhile.
        case done
    }

    /// Deletes a lease (the holder can no longer commit); the shard goes back to pending if no other lease holds it.
    public func revokeLease(token: Int64, shard: Int64) throws(StoreError) -> Revocation {
        try connection.during("revoking lease \(token) of shard \(shard)") {
            try connection.transaction {
                let state = try StateRows.shard(shard, connection)
                try connection.execute("DELETE FROM shard_leases WHERE token = $1", [String(token)])
                guard state == .leased else { return state == .done ? .done : .pending }
                let others = try connection.execute(
                    "SELECT count(*) FROM shard_leases WHERE shard_id = $1",
                    [String(shard)]
                ).scalar
                if others != "0" { return .stillLeased }
                try connection.execute("UPDATE shards SET state = 'pending' WHERE id = $1", [String(shard)])
                return .pending
            }
        }
    }

    public func shardState(_ shard: Int64) throws(StoreError) -> ShardState? {
        try connection.during("reading shard \(shard)") {
            try connection.execute("SELECT state FROM shards WHERE id = $1", [String(shard)]).scalar
                .flatMap(ShardState.init(rawValue:))
        }
    }

    /// A shard failed too often: split it in two halves (new pending shards, returned), or, if it
    /// holds one document, fail it and record that document as rejected with `error` (no halves).
    /// Nil when the shard is no longer open (committed meanwhile).
    public func isolateFailure(job: Int64, shard: ShardRecord, error: String) throws(StoreError) -> [ShardRecord]? {
        try connection.during("splitting shard \(shard.id)") {
            try connection.transaction { () throws -> [ShardRecord]? in
                // Committed meanwhile (a lease lapsed just after its commit): nothing to isolate.
                guard try StateRows.shard(shard.id, connection)?.isOpen == true else { return nil }
                try connection.execute("DELETE FROM shard_leases WHERE shard_id = $1", [String(shard.id)])
                let seqs = try connection.execute(
                    "SELECT seq, line, doc_id FROM job_documents WHERE job_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
                    [String(job), String(shard.firstSeq), String(shard.lastSeq)]
                )
                if seqs.count <= 1 {
                    try connection.execute(
                        "UPDATE shards SET state = 'failed', error = $2, finished_at = now() WHERE id = $1",
                        [String(shard.id), error]
                    )
                    try connection.execute(
                        "INSERT INTO rejected_documents (job_id, line, doc_id, error) VALUES ($1, $2, $3, $4)",
                        [String(job), seqs.rows.first?[1], seqs.rows.first?[2], error]
                    )
                    return []
                }
                try connection.execute(
                    "UPDATE shards SET state = 'split', error = $2, finished_at = now() WHERE id = $1",
                    [String(shard.id), error]
                )
                let half = seqs.count / 2
                var children: [ShardRecord] = []
                for range in [0..<half, half..<seqs.count] {
                    let first = Int(seqs.rows[range.lowerBound][0]!)!
                    let last = Int(seqs.rows[range.upperBound - 1][0]!)!
                    let id = try connection.execute(
                        """
                        INSERT INTO shards (job_id, parent_id, first_seq, last_seq, doc_count, state)
                        VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING id
                        """,
                        [String(job), String(shard.id), String(first), String(last), String(range.count)]
                    ).scalar.flatMap { Int64($0) }!
                    children.append(
                        ShardRecord(
                            id: id,
                            job: job,
                            firstSeq: first,
                            lastSeq: last,
                            documentCount: range.count,
                            attempts: 0
                        )
                    )
                }
                return children
            }
        }
    }

    /// The first job past running (indexing, done, failed, cancelled) whose staged documents,
    /// which nothing reads any more, are not yet all deleted (``markStagingDropped(job:)``); nil
    /// when there is none. The caller deletes them in steps (``dropStaged(job:seqs:)``) from seq 0
    /// (a job's seqs count from 0). Jobs only: a look at a job's staged rows just after a million
    /// of them went walked their dead index entries (2 s, every 5 s until autovacuum came).
    public func finishedStaging() throws(StoreError) -> Int64? {
        try connection.during("looking for finished jobs' staged documents") {
            try connection.execute(
                """
                SELECT id FROM jobs WHERE state IN ('indexing', 'done', 'failed', 'cancelled') AND NOT staging_dropped
                ORDER BY id LIMIT 1
                """
            ).scalar.flatMap { Int64($0) }
        }
    }

    /// Deletes a finished job's staged documents with seqs in `seqs`, by the primary key: a step
    /// costs its own rows, however many were staged or deleted before (a delete of "any N
    /// finished rows" scanned the whole staging table each step, its dead rows too; a "next N
    /// rows" subquery was planned, under stale statistics, as a sort of all the job's rows).
    /// Returns how many went; nothing goes for a job that is not past running.
    public func dropStaged(job: Int64, seqs: Range<Int>) throws(StoreError) -> Int {
        try connection.during("dropping job \(job)'s staged documents") {
            try connection.execute(
                """
                DELETE FROM job_documents d USING jobs j
                WHERE j.id = $1 AND j.state IN ('indexing', 'done', 'failed', 'cancelled')
                    AND d.job_id = $1 AND d.seq >= $2 AND d.seq < $3
                """,
                [String(job), String(seqs.lowerBound), String(seqs.upperBound)]
            ).affected
        }
    }

    /// The job's first staged seq from `seq` on; nil when none is left. Asked after a step found
    /// none (the end, or a gap the seal left where unchanged documents were): the primary key
    /// from `seq` on, which holds no dead entries of the steps before.
    public func nextStaged(job: Int64, from seq: Int) throws(StoreError) -> Int? {
        try connection.during("looking for job \(job)'s staged documents") {
            try connection.execute(
                "SELECT seq FROM job_documents WHERE job_id = $1 AND seq >= $2 ORDER BY seq LIMIT 1",
                [String(job), String(seq)]
            ).scalar.flatMap { Int($0) }
        }
    }

    /// Records that a job past running has no staged documents left: ``finishedStaging()`` does
    /// not name it again.
    public func markStagingDropped(job: Int64) throws(StoreError) {
        try connection.during("marking job \(job)'s staged documents dropped") {
            try connection.execute(
                """
                UPDATE jobs SET staging_dropped = true
                WHERE id = $1 AND state IN ('indexing', 'done', 'failed', 'cancelled')
                """,
                [String(job)]
            )
        }
    }

    /// Moves a running job whose shards are all done (or failed) to `indexing`; the
    /// caller then makes sure the index has its HNSW index and calls ``markDone(job:)``.
    /// Returns whether the job moved.
    /// In the same transaction, the job's committed documents are copied into a follow-up job (running, its
    /// shards cut) for each index the job names to go to next (``createJob(index:source:shardSize:then:)``);
    /// they are returned for dealing.
    public func finishIfComplete(job: Int64) throws(StoreError) -> (finished: Bool, followUps: [JobRecord]) {
        try connection.during("finishing job \(job)") {
            try connection.transaction {
                let finished =
                    try connection.execute(
                        """
                        UPDATE jobs SET state = 'indexing', finished_at = now() WHERE id = $1 AND state = 'running'
                        AND NOT EXISTS (SELECT 1 FROM shards WHERE job_id = $1 AND state IN ('pending', 'leased'))
                        """,
                        [String(job)]
                    ).affected == 1
                guard finished else { return (false, []) }
                let followUps = try makeFollowUps(of: job)
                // Its staged documents go in bounded steps (``dropStaged(job:seqs:)``): one
                // statement over a million rows would hold the caller for seconds.
                return (true, followUps)
            }
        }
    }

    /// The follow-up jobs of a finished job (inside ``finishIfComplete(job:)``'s transaction). Documents keep
    /// their versions, so a follow-up never writes over a newer submission or a deletion.
    private func makeFollowUps(of job: Int64) throws -> [JobRecord] {
        let targets = try connection.execute(
            """
            SELECT \(Catalog.indexColumns), j.shard_size FROM jobs j
            JOIN indexes i ON i.id = ANY(j.then_index_ids) JOIN models m ON m.id = i.model_id
            WHERE j.id = $1 ORDER BY i.id
            """,
            [String(job)]
        )
        var made: [JobRecord] = []
        for row in 0..<targets.count {
            let index = Catalog.index(targets, row)
            let shardSize = targets.int(row, "shard_size") ?? 64
            let id = try createJob(
                index: index,
                source: "job \(job)'s documents, for \(index.name)",
                shardSize: shardSize,
                follows: job
            )
            // Only what was committed: a document rejected by the serving generation is not tried again.
            let copied = try connection.execute(
                """
                INSERT INTO job_documents (job_id, seq, line, doc_id, title, body, metadata, content_hash, version)
                SELECT $1, (row_number() OVER (ORDER BY j.seq) - 1)::int, j.line, j.doc_id, j.title, j.body, j.metadata,
                    j.content_hash, j.version
                FROM job_documents j WHERE j.job_id = $2 AND EXISTS (
                    SELECT 1 FROM shards s WHERE s.job_id = $2 AND s.state = 'done' AND j.seq BETWEEN s.first_seq AND s.last_seq)
                """,
                [String(id), String(job)]
            ).affected
            try connection.execute("UPDATE jobs SET submitted_docs = $2 WHERE id = $1", [String(id), String(copied)])
            if copied > 0 { _ = try cut(job: id, index: index, from: 0, through: copied - 1, shardSize: shardSize) }
            try connection.execute("UPDATE jobs SET state = 'running', started_at = now() WHERE id = $1", [String(id)])
            made.append(JobRecord(id: id, index: index, state: .running))
        }
        return made
    }

    /// An `indexing` job is done (its index's HNSW index is in place), or failed with `error`.
    public func markDone(job: Int64, error: String? = nil) throws(StoreError) {
        try connection.during("marking job \(job) done") {
            try connection.execute(
                "UPDATE jobs SET state = $2, error = $3 WHERE id = $1 AND state = 'indexing'",
                [String(job), error == nil ? "done" : "failed", error]
            )
        }
    }

    public func recordWorker(id: String, host: String, version: String, threads: Int, models: String) throws(StoreError)
    {
        try connection.during("recording worker \(id)") {
            try connection.execute(
                """
                INSERT INTO workers (id, host, version, threads, models) VALUES ($1, $2, $3, $4, $5::jsonb)
                ON CONFLICT (id) DO UPDATE SET host = $2, version = $3, threads = $4, models = $5::jsonb, last_seen = now()
                """,
                [id, host, version, String(threads), models]
            )
        }
    }
}
