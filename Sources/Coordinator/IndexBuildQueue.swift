import Foundation
import Logging
import Store
import Synchronization

/// Builds the HNSW indexes of jobs whose shards are all done, one at a time, on a thread
/// of its own (a build of millions of vectors takes a while; the coordinator's loop goes
/// on dealing other jobs' shards). The loop hands jobs in with ``enqueue(_:)``, reads
/// progress for `coord status`, and collects finished builds with ``takeFinished()``.
final class IndexBuildQueue: Sendable {
    struct Finished: Sendable {
        var job: Int64
        var index: String
        var outcome: Result<HnswIndexBuilder.Outcome, StoreError>
    }

    private struct State: Sendable {
        var waiting: [JobRecord] = []
        var progress: [Int64: String] = [:]
        var finished: [Finished] = []
        var stopped = false
    }

    private let builder: HnswIndexBuilder
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled when the thread has ended (after ``stop(waitingUpTo:)``).
    private let ended = DispatchSemaphore(value: 0)
    private let logger: Logger

    init(builder: HnswIndexBuilder, logger: Logger) {
        self.builder = builder
        self.logger = logger
        let thread = Thread { [self] in work() }
        thread.name = "index-builds"
        thread.start()
    }

    /// Queues `job` (in state `indexing`) unless it is queued already.
    func enqueue(_ job: JobRecord) {
        let added = state.withLock { state in
            guard !state.waiting.contains(where: { $0.id == job.id }) else { return false }
            state.waiting.append(job)
            state.progress[job.id] = "waiting to build the HNSW index"
            return true
        }
        if added { wake.signal() }
    }

    /// What the build for `job` is doing, for status reports.
    func progress(job: Int64) -> String? { state.withLock { $0.progress[job] } }

    func takeFinished() -> [Finished] {
        state.withLock { state in
            defer { state.finished = [] }
            return state.finished
        }
    }

    /// Stops the thread: a build in progress is cancelled on the server (its backend would
    /// otherwise go on building, holding its locks) and its half-built index dropped; the job stays
    /// `indexing` and is built again at the next start. Waits up to `seconds` for that; false when
    /// the thread had not ended by then.
    @discardableResult
    func stop(waitingUpTo seconds: Double) -> Bool {
        state.withLock { $0.stopped = true }
        wake.signal()
        return ended.wait(timeout: .now() + .milliseconds(Int(seconds * 1000))) == .success
    }

    private func work() {
        defer { ended.signal() }
        while true {
            wake.wait()
            while let job = state.withLock({ $0.stopped ? nil : $0.waiting.first }) {
                let index = job.index
                logger.info(
                    "building HNSW index",
                    metadata: [
                        "job": "\(job.id)", "index": "\(index.name)", "m": "\(index.hnsw.m)",
                        "ef_construction": "\(index.hnsw.efConstruction)",
                    ]
                )
                let outcome = Result { () throws(StoreError) -> HnswIndexBuilder.Outcome in
                    try builder.build(
                        index,
                        cancelled: { state.withLock { $0.stopped } },
                        notice: { notice in
                            logger.warning(
                                "HNSW build: PostgreSQL says: \(notice)",
                                metadata: ["job": "\(job.id)", "index": "\(index.name)"]
                            )
                        }
                    ) { progress in
                        state.withLock { $0.progress[job.id] = "building the HNSW index: \(progress)" }
                    }
                }
                if case .failure(.cancelled) = outcome {
                    logger.info(
                        "HNSW build cancelled: it starts again with the coordinator",
                        metadata: ["job": "\(job.id)"]
                    )
                    return
                }
                state.withLock { state in
                    state.waiting.removeFirst()
                    state.progress[job.id] = nil
                    state.finished.append(Finished(job: job.id, index: index.name, outcome: outcome))
                }
            }
            if state.withLock({ $0.stopped }) { return }
        }
    }
}
