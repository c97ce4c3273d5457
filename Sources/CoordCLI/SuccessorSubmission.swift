import Coordinator
import Foundation
import JobStates
import Search
import Store
import Upgrade
import Wire

/// Documents of an index embedded again by the workers into its successor index (`INDEX@MODEL`):
/// the sample of `coord upgrade`, the rest with `coord reindex`, a query's candidates on demand. The
/// coordinator stages them from the database itself, at their versions (a `reembed` request):
/// nothing is read into this process and nothing written to a file; a document changed or deleted
/// meanwhile is embedded as it is now, or not at all.
struct SuccessorSubmission: SuccessorEmbedder {
    let client: ClientOptions
    /// A query waits (re-scoring on demand): dealt first, small shards, no progress bar, no HNSW build.
    var urgent = false
    /// Asked while waiting (Ctrl-C): the job keeps running on the workers; the command exits 130.
    var isCancelled: @Sendable () -> Bool = { false }

    /// Has the workers embed those of `ids` (every document when nil) of index `index` that
    /// `successor` lacks; waits for the job unless `wait` is off. Returns the job and how many it embeds.
    @discardableResult
    func embed(
        ids: [String]?,
        of index: String,
        into successor: String,
        wait: Bool
    ) throws -> (
        job: Int64, toEmbed: Int
    ) {
        let connection = try client.client()
        let what = ids.map { "\($0.count) documents" } ?? "the documents"
        let request = ClientRequest.reembed(
            .init(index: index, successor: successor, ids: ids, shardSize: urgent ? 4 : 64, urgent: urgent)
        )
        let job: Int64
        var toEmbed: Int
        do {
            switch try connection.request(request) {
            case .sealed(let sealed): (job, toEmbed) = (sealed.job, sealed.toEmbed)
            case .sealing(let sealing):
                // A big job: sealed by the coordinator in steps; its status says when it runs.
                (job, toEmbed) = (sealing, 0)
                while true {
                    guard case .status(let report) = try connection.request(.status(job: job)),
                        let status = report.jobs.first
                    else { throw fail("job \(job): no status from the coordinator") }
                    if status.state != .receiving {
                        toEmbed = status.totalDocs
                        break
                    }
                    if isCancelled() { throw fail("interrupted; job \(job) keeps being sealed and run", code: 130) }
                    Thread.sleep(forTimeInterval: 0.25)
                }
            case .failure(let message):
                throw fail("having the workers embed \(what) of \(index) into \(successor): \(message)")
            default: throw fail("unexpected reply from the coordinator")
            }
        } catch let error as CoordinatorClient.Failure {
            throw fail("having the workers embed \(what) of \(index) into \(successor): \(error)")
        }
        if !urgent {
            FileHandle.standardError.write(Data("job \(job): \(toEmbed) documents to embed into \(successor)\n".utf8))
        }
        guard wait else { return (job, toEmbed) }
        var watcher = JobWatcher(client: connection, pollSeconds: urgent ? 0.05 : 0.5, showsProgress: !urgent)
        watcher.isCancelled = isCancelled
        let final = try watcher.wait(job: job)
        guard final.state == .done else {
            throw fail("job \(job) \(final.state): \(final.error ?? "see coord status")")
        }
        return (job, toEmbed)
    }
}

/// Re-scoring's on-demand embedding by the workers: each batch of documents a query lacks is an
/// urgent job. When the coordinator does not answer within a second (asked once, before the first
/// job), refuses, or the job fails, it says so once on standard error and leaves the documents to
/// the querying process (nothing is lost, the query is answered either way).
final class WorkerEmbedding: OnDemandEmbedding {
    let client: ClientOptions
    private var warned = false
    /// Whether the coordinator answered the first probe (nil: not asked yet).
    private var reachable: Bool?

    init(client: ClientOptions) { self.client = client }

    func embed(ids: [String], of index: IndexRecord, into successor: IndexRecord) throws {
        guard !ids.isEmpty else { return }
        if reachable == nil {
            var probe = client
            probe.timeout = 1
            reachable =
                (try? probe.client().request(.status(job: nil))).map { if case .status = $0 { true } else { false } }
                ?? false
            if reachable == false {
                warn("no coordinator answered at \(client.coordinator) within a second")
            }
        }
        guard reachable == true else { return }
        do {
            try SuccessorSubmission(client: client, urgent: true)
                .embed(ids: ids, of: index.name, into: successor.name, wait: true)
        } catch {
            warn("\(error)")
        }
    }

    private func warn(_ reason: String) {
        guard !warned else { return }
        FileHandle.standardError.write(
            Data("warning: the workers could not embed on demand (\(reason)); embedding here instead\n".utf8)
        )
        warned = true
    }
}
