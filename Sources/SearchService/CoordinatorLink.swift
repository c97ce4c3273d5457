import Foundation
import Logging
import Search
import Store
import Synchronization
import Wire

/// The service's way to the coordinator's client endpoint: its status (jobs and workers, read
/// at most every ``statusInterval`` however many pages poll), job cancellation, and re-scoring's
/// on-demand embedding by the workers. Each exchange uses a socket of its own.
final class CoordinatorLink: Sendable {
    let endpoint: String
    let keys: CurveKeyStore.ClientKeys?
    let statusInterval: Duration
    let logger: Logger
    private let cached = Mutex<(report: StatusReport, at: ContinuousClock.Instant)?>(nil)
    private let asking = NSLock()
    /// Until when on-demand embedding stays local after the coordinator did not answer.
    private let unreachableUntil = Mutex<ContinuousClock.Instant?>(nil)

    init(
        endpoint: String,
        keys: CurveKeyStore.ClientKeys?,
        statusInterval: Duration = .milliseconds(500),
        logger: Logger
    ) {
        self.endpoint = endpoint
        self.keys = keys
        self.statusInterval = statusInterval
        self.logger = logger
    }

    private func client(timeout: Duration) throws -> CoordinatorClient {
        try CoordinatorClient(endpoint: endpoint, keys: keys, timeout: timeout)
    }

    /// The coordinator's status report, at most ``statusInterval`` old; 503 when it does not answer.
    func status() throws(APIError) -> StatusReport {
        if let cached = cached.withLock({ $0 }), cached.at.duration(to: .now) < statusInterval { return cached.report }
        asking.lock()
        defer { asking.unlock() }
        if let cached = cached.withLock({ $0 }), cached.at.duration(to: .now) < statusInterval { return cached.report }
        let reply: ClientReply
        do { reply = try client(timeout: .seconds(2)).request(.status(job: nil)) } catch {
            throw .unavailable("coordinator_unavailable", "the coordinator at \(endpoint) did not answer: \(error)")
        }
        switch reply {
        case .status(let report):
            cached.withLock { $0 = (report, .now) }
            return report
        case .failure(let message): throw .unavailable("coordinator_unavailable", "the coordinator: \(message)")
        default: throw .unavailable("coordinator_unavailable", "the coordinator sent an unexpected reply")
        }
    }

    /// Cancels a job through the coordinator.
    func cancel(job: Int64) throws(APIError) -> StatusReport.JobStatus? {
        let reply: ClientReply
        do { reply = try client(timeout: .seconds(10)).request(.cancel(job: job)) } catch {
            throw .unavailable("coordinator_unavailable", "the coordinator at \(endpoint) did not answer: \(error)")
        }
        switch reply {
        case .ack:
            cached.withLock { $0 = nil }
            return try? status().jobs.first { $0.id == job }
        case .failure(let message) where message.contains("unknown job"):
            throw APIError(.notFound, code: "unknown_job", message, field: "job")
        case .failure(let message): throw APIError(.conflict, code: "cannot_cancel", message, field: "job")
        default: throw .unavailable("coordinator_unavailable", "the coordinator sent an unexpected reply")
        }
    }

    func onDemand() -> any OnDemandEmbedding { WorkerOnDemand(link: self) }

    /// Re-scoring's candidates without a new-model vector, embedded by the workers as an urgent
    /// job. A coordinator that does not answer within a second is not asked again for 10 s
    /// (the searcher embeds those documents itself meanwhile: the query is answered either way).
    fileprivate func embed(ids: [String], of index: IndexRecord, into successor: IndexRecord) {
        if let until = unreachableUntil.withLock({ $0 }), ContinuousClock.now < until { return }
        let request = ClientRequest.reembed(
            .init(index: index.name, successor: successor.name, ids: ids, shardSize: 4, urgent: true)
        )
        do {
            let client = try client(timeout: .seconds(1))
            guard case .sealed(let sealed) = try client.request(request) else {
                logger.warning(
                    "the workers could not embed on demand: the coordinator refused",
                    metadata: ["index": "\(index.name)"]
                )
                return
            }
            client.timeout = .seconds(5)
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if case .status(let report) = try client.request(.status(job: sealed.job)),
                    let job = report.jobs.first, job.isFinished
                {
                    return
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
            logger.warning("on-demand job still running after 30 s; embedding here", metadata: ["job": "\(sealed.job)"])
        } catch {
            unreachableUntil.withLock { $0 = .now + .seconds(10) }
            logger.warning(
                "the workers could not embed on demand; embedding in the service for 10 s",
                metadata: ["coordinator": "\(endpoint)", "reason": "\(error)"]
            )
        }
    }
}

private final class WorkerOnDemand: OnDemandEmbedding {
    let link: CoordinatorLink
    init(link: CoordinatorLink) { self.link = link }
    func embed(ids: [String], of index: IndexRecord, into successor: IndexRecord) throws {
        link.embed(ids: ids, of: index, into: successor)
    }
}
