import Coordinator
import Foundation
import Search
import Store
import Wire

/// Documents of an index handed to the workers to embed into its successor index (`INDEX@MODEL`):
/// the sample of `coord upgrade`, the rest with `coord reindex`. An ordinary job.
struct SuccessorSubmission {
    let client: ClientOptions
    let model: String
    /// A query waits (re-scoring on demand): dealt first, small shards, no progress bar, no HNSW build.
    var urgent = false
    /// Asked while sending and waiting (Ctrl-C): an upload is abandoned, a sealed job keeps running;
    /// either way the temporary file goes and the command exits 130.
    var isCancelled: @Sendable () -> Bool = { false }

    /// Submits `lines` (JSON corpus lines) to index `successor`; waits for the job unless `wait` is off.
    /// Returns the job id.
    func submit(_ lines: [String], into successor: String, wait: Bool) throws -> Int64 {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "driftless-\(successor)-\(UUID().uuidString).jsonl"
        )
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let connection = try client.client()
        var submission = CorpusSubmission(path: file.path, index: successor, model: model)
        submission.isCancelled = isCancelled
        if urgent {
            submission.urgent = true
            submission.shardSize = 4  // spread over the workers
        }
        let outcome: CorpusSubmission.Outcome
        do { outcome = try submission.run(client: connection) } catch let error as SubmissionError {
            if case .cancelled = error { throw fail(error, code: 130) }
            throw fail("submitting \(lines.count) documents to the workers for \(successor): \(error)")
        } catch {
            throw fail("submitting \(lines.count) documents to the workers for \(successor): \(error)")
        }
        if !urgent {
            FileHandle.standardError.write(
                Data("job \(outcome.job): \(outcome.sealed.toEmbed) documents to embed into \(successor)\n".utf8)
            )
        }
        guard wait else { return outcome.job }
        var watcher = JobWatcher(client: connection, pollSeconds: urgent ? 0.05 : 0.5, showsProgress: !urgent)
        watcher.isCancelled = isCancelled
        let final = try watcher.wait(job: outcome.job)
        guard final.state == "done" else {
            throw fail("job \(outcome.job) \(final.state): \(final.error ?? "see coord status")")
        }
        return outcome.job
    }
}

/// Re-scoring's on-demand embedding by the workers: each batch of documents a query lacks is an
/// urgent job. When the coordinator cannot be reached or the job fails, it says so once on
/// standard error and leaves the documents to the querying process (nothing is lost, the query
/// is answered either way).
final class WorkerEmbedding: OnDemandEmbedding {
    let client: ClientOptions
    private var warned = false

    init(client: ClientOptions) { self.client = client }

    func embed(_ documents: [(id: String, line: String)], into successor: IndexRecord) throws {
        guard !documents.isEmpty else { return }
        do {
            _ = try SuccessorSubmission(client: client, model: successor.model.name, urgent: true)
                .submit(documents.map(\.line), into: successor.name, wait: true)
        } catch {
            if !warned {
                FileHandle.standardError.write(
                    Data("warning: the workers could not embed on demand (\(error)); embedding here instead\n".utf8)
                )
                warned = true
            }
        }
    }
}
