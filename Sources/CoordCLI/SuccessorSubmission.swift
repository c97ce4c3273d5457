import Coordinator
import Foundation
import Wire

/// Documents of an index handed to the workers to embed into its successor index (`INDEX@MODEL`):
/// the sample of `coord upgrade`, the rest with `coord reindex`. An ordinary job.
struct SuccessorSubmission {
    let client: ClientOptions
    let model: String

    /// Submits `lines` (JSON corpus lines) to index `successor`; waits for the job unless `wait` is off.
    /// Returns the job id.
    func submit(_ lines: [String], into successor: String, wait: Bool) throws -> Int64 {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("driftless-\(successor)-\(UUID().uuidString).jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let connection = try client.client()
        let outcome: CorpusSubmission.Outcome
        do { outcome = try CorpusSubmission(path: file.path, index: successor, model: model).run(client: connection) } catch {
            throw fail("submitting \(lines.count) documents to the workers for \(successor): \(error)")
        }
        FileHandle.standardError.write(Data("job \(outcome.job): \(outcome.sealed.toEmbed) documents to embed into \(successor)\n".utf8))
        guard wait else { return outcome.job }
        let final = try JobWatcher(client: connection).wait(job: outcome.job)
        guard final.state == "done" else { throw fail("job \(outcome.job) \(final.state): \(final.error ?? "see coord status")") }
        return outcome.job
    }
}
