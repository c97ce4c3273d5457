import Foundation
import Store
import Wire

/// What the coordinator makes of each message a worker sends, as a pure state machine over the
/// peers' sessions (no sockets, no database, times passed in). A peer is unknown until its
/// `hello` is admitted (right protocol, its own id, at most one a second) and the registry has
/// checked its models (``joined(_:hello:models:key:now:scheduler:)``); then it is welcomed until
/// it leaves or is declared dead. Lease messages count only from the peer holding that lease on
/// that shard. Everything else becomes a ``Verdict/drop(_:_:)`` for the loop to count and log.
public struct WorkerSessions {
    public enum Verdict: Equatable, Sendable {
        /// Not acted on: counted, and logged once per peer and reason.
        case drop(DropReason, String)
        /// From a peer that is not welcomed (the coordinator restarted, declared it dead, or it
        /// never said hello): dropped, and the peer is asked to say hello.
        case askHello(DropReason, String)
        /// A hello the coordinator cannot accept at all: the worker is told why.
        case refuse(String)
        /// A hello to accept once the registry has checked its models.
        case admit(WorkerMessage.Hello)
        /// Answered with a heartbeat; `forged` are leases it named but never held.
        case heartbeat(forged: [Int64])
        /// Credit added.
        case credit
        /// From the lease holder: the loop verifies and closes the shard.
        case done(WorkerMessage.ShardDone)
        /// From the lease holder: the loop deals it again or isolates it. `disabled` names the
        /// model this worker is no longer dealt (a worker fault), `paused` that nothing is dealt to it
        /// for a while (a database fault).
        case failed(WorkerMessage.ShardFailed, disabled: String?, paused: Bool)
        /// From the lease holder: its commit found the lease gone.
        case fenced(shard: Int64, lease: Int64)
        /// A report on a lease the sender held until recently (a race, not an offence).
        case late(type: String, shard: Int64, lease: Int64)
        /// The worker left: these leases go back.
        case left([ShardScheduler.Lease])
        /// Nothing to do (a goodbye from a peer already gone).
        case ignore
    }

    /// When each peer last said hello (bounded: pruned as it grows).
    private var lastHello: [String: Double] = [:]
    /// Routing id → the name of the key a welcomed worker connected with.
    public private(set) var keyNames: [String: String] = [:]

    public init() {}

    /// Decides what `message` from `worker` means, updating the scheduler's view of the worker
    /// (seen, credit, heartbeats, leaving) where the message counts.
    public mutating func receive(
        _ message: WorkerMessage,
        from worker: String,
        now: Double,
        scheduler: inout ShardScheduler
    ) -> Verdict {
        if case .hello(let greeting) = message {
            return admission(greeting, from: worker, now: now, workers: scheduler.workers.count)
        }
        guard scheduler.seen(worker, now: now) else {
            if case .goodbye = message { return .ignore }
            return .askHello(.notWelcomed, "\(message.typeName) before hello: asked to say hello")
        }
        switch message {
        case .hello:
            return .ignore
        case .ready(let credit):
            scheduler.addCredit(worker, credit)
            return .credit
        case .heartbeat(let leases):
            let foreign = scheduler.heartbeat(worker, leases: leases, now: now)
            return .heartbeat(forged: foreign.filter { !scheduler.held(worker, token: $0) })
        case .shardDone(let done):
            return leaseCheck(worker, "shard_done", token: done.lease, shard: done.shard, scheduler) ?? .done(done)
        case .shardFailed(let failure):
            if let refused = leaseCheck(worker, "shard_failed", token: failure.lease, shard: failure.shard, scheduler) {
                return refused
            }
            var disabled: String?
            var paused = false
            switch failure.fault {
            case .worker:
                // A machine fault: this worker gets no more of the model's shards; the others carry on.
                if let model = scheduler.shards[failure.shard]?.model,
                    scheduler.workers[worker]?.unhealthy[ModelName(model).workerKey] == nil
                {
                    scheduler.disable(model: model, on: worker, reason: failure.error)
                    disabled = model
                }
            case .database:
                scheduler.pause(worker, reason: failure.error, now: now)
                paused = true
            case .document, .returned:
                break
            }
            return .failed(failure, disabled: disabled, paused: paused)
        case .shardFenced(let shard, let lease):
            return leaseCheck(worker, "shard_fenced", token: lease, shard: shard, scheduler)
                ?? .fenced(shard: shard, lease: lease)
        case .goodbye:
            return .left(scheduler.leave(worker))
        }
    }

    /// The registry checked an admitted hello: `models` are those whose weights match. The worker
    /// is welcomed (a worker it replaces loses its leases, as the scheduler decides).
    public mutating func joined(
        _ worker: String,
        hello: WorkerMessage.Hello,
        models: Set<String>,
        key: String?,
        now: Double,
        scheduler: inout ShardScheduler
    ) {
        scheduler.join(id: worker, host: hello.host, threads: hello.threads, models: models, now: now)
        if let key { keyNames[worker] = key }
        if keyNames.count > scheduler.workers.count + 1000 {
            keyNames = keyNames.filter { scheduler.workers[$0.key] != nil }
        }
    }

    private mutating func admission(
        _ hello: WorkerMessage.Hello,
        from worker: String,
        now: Double,
        workers: Int
    ) -> Verdict {
        // Each hello reads the registry and writes the workers table: one a second per peer.
        if let last = lastHello[worker], now - last < 1 {
            return .drop(.tooFrequent, "a hello \(String(format: "%.2f", now - last)) s after the last one")
        }
        lastHello[worker] = now
        if lastHello.count > workers + 1000 { lastHello = lastHello.filter { now - $0.value < 1 } }
        guard hello.protocolVersion == WireProtocol.version else {
            return .refuse(
                "protocol version \(hello.protocolVersion) is not supported; the coordinator speaks version \(WireProtocol.version)"
            )
        }
        guard hello.worker == worker else {
            return .drop(.invalid, "a hello whose worker id (\(hello.worker.prefix(64))) differs from its routing id")
        }
        return .admit(hello)
    }

    /// Nil when `worker` holds `token` on `shard`; otherwise what to make of the message.
    private func leaseCheck(
        _ worker: String,
        _ type: String,
        token: Int64,
        shard: Int64,
        _ scheduler: ShardScheduler
    ) -> Verdict? {
        if scheduler.holds(worker, token: token, shard: shard) { return nil }
        if scheduler.held(worker, token: token, shard: shard) { return .late(type: type, shard: shard, lease: token) }
        return .drop(.notLeaseHolder, "\(type) for shard \(shard), lease \(token), which it does not hold")
    }
}
