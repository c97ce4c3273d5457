import Dispatch

/// A fixed degree of parallelism for numeric kernels.
///
/// Work is cut into at most `threads` contiguous chunks and run with
/// `DispatchQueue.concurrentPerform`, which blocks the caller until every chunk is
/// done. Callers must not be on Swift's cooperative pool when the work is large:
/// the embedder runs on its own thread.
public struct ComputePool: Sendable {
    public let threads: Int

    public init(threads: Int) {
        precondition(threads >= 1, "a compute pool needs at least one thread")
        self.threads = threads
    }

    /// Calls `body(range)` for contiguous, disjoint sub-ranges that cover `0..<count`,
    /// at most one per thread, in parallel. Ranges are never empty.
    public func forEachChunk(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads, max(1, count / max(1, minimumChunk)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        // The chunks touch disjoint data by contract; the closure itself need not be Sendable.
        withoutActuallyEscaping(body) { escaping in
            nonisolated(unsafe) let body = escaping
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks
                let end = count * (chunk + 1) / chunks
                if start < end { body(start..<end) }
            }
        }
    }

    /// Calls `body(i)` for every `i` in `0..<count`, handing items out dynamically
    /// to the threads (for items of uneven cost, such as attention heads of
    /// sequences of different lengths). `body` receives the worker's index
    /// in `0..<threads` too, for per-thread scratch space.
    public func forEach(_ count: Int, _ body: (_ item: Int, _ worker: Int) -> Void) {
        guard count > 0 else { return }
        let workers = min(threads, count)
        if workers == 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        let next = AtomicCounter()
        withoutActuallyEscaping(body) { escaping in
            nonisolated(unsafe) let body = escaping
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                while true {
                    let i = next.increment()
                    if i >= count { break }
                    body(i, worker)
                }
            }
        }
    }
}
