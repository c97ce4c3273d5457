import Foundation
import JobStates
import PostgresClient

/// A job's progress as the database records it.
public struct JobSummary: Sendable, Equatable {
    public var id: Int64
    public var index: String
    public var model: String
    public var state: JobState
    public var source: String
    public var submittedDocs: Int
    public var unchangedDocs: Int
    /// A `mirror` job's deletions (nil for other jobs; -1: none, a rejected line had no id).
    public var deletedDocs: Int?
    public var totalDocs: Int
    public var doneDocs: Int
    public var rejectedDocs: Int
    public var shards: [String: Int]
    public var elapsedSeconds: Double
    public var error: String?
}

extension JobStore {
    /// One job, or the 20 most recent.
    public func summaries(job: Int64? = nil) throws(StoreError) -> [JobSummary] {
        let rows = try connection.during("reading job status") {
            try connection.execute(
                """
                SELECT j.id, i.name AS index_name, m.name AS model_name, j.state, j.source, j.submitted_docs,
                    j.unchanged_docs, CASE WHEN j.mirror THEN j.deleted_docs END AS deleted_docs, j.error,
                    EXTRACT(EPOCH FROM (coalesce(j.finished_at, now()) - coalesce(j.started_at, j.created_at)))::float8 AS elapsed,
                    (SELECT coalesce(sum(doc_count), 0) FROM shards s WHERE s.job_id = j.id AND s.parent_id IS NULL) AS total,
                    (SELECT coalesce(sum(doc_count), 0) FROM shards s WHERE s.job_id = j.id AND s.state = 'done') AS done,
                    (SELECT count(*) FROM rejected_documents r WHERE r.job_id = j.id) AS rejected,
                    (SELECT coalesce(json_object_agg(state, n), '{}') FROM
                        (SELECT state, count(*) AS n FROM shards s WHERE s.job_id = j.id GROUP BY state) x) AS shard_states
                FROM jobs j JOIN indexes i ON i.id = j.index_id JOIN models m ON m.id = i.model_id
                WHERE $1::bigint IS NULL OR j.id = $1 ORDER BY j.id DESC LIMIT 20
                """,
                [job.map(String.init)]
            )
        }
        return (0..<rows.count).map { row in
            let states = rows.value(row, "shard_states").flatMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Int]
            }
            return JobSummary(
                id: Int64(rows.int(row, "id")!),
                index: rows.value(row, "index_name")!,
                model: rows.value(row, "model_name")!,
                state: rows.value(row, "state").flatMap(JobState.init(rawValue:)) ?? .failed,
                source: rows.value(row, "source") ?? "",
                submittedDocs: rows.int(row, "submitted_docs") ?? 0,
                unchangedDocs: rows.int(row, "unchanged_docs") ?? 0,
                deletedDocs: rows.int(row, "deleted_docs"),
                totalDocs: rows.int(row, "total") ?? 0,
                doneDocs: rows.int(row, "done") ?? 0,
                rejectedDocs: rows.int(row, "rejected") ?? 0,
                shards: states ?? [:],
                elapsedSeconds: rows.double(row, "elapsed") ?? 0,
                error: rows.value(row, "error")
            )
        }
    }
}
