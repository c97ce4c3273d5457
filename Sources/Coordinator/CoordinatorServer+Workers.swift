import Embedding
import Foundation
import JobStates
import Logging
import Store
import Wire

extension CoordinatorServer {
    /// One message from a worker: `[routing id, JSON]`. Every message is checked before it touches
    /// state: its shape and ranges (``WireLimits``), that the sender was welcomed, and for lease
    /// messages that the sender holds that lease on that shard. Anything else is dropped, counted
    /// (`driftless_dropped_messages_total`) and logged once per peer.
    func handleWorkerFrames(_ frames: [Data], _ key: Peer?) {
        guard frames.count == 2 else {
            dropped(.malformed, peer: frames.first.map(Self.peerName) ?? "?", "expected 2 frames, got \(frames.count)")
            return
        }
        let worker = Self.peerName(frames[0])
        let message: WorkerMessage
        do { message = try WireProtocol.decode(WorkerMessage.self, from: frames[1]) } catch {
            dropped(error.dropReason, peer: worker, "\(error) (\(frames[1].count) bytes)")
            return
        }
        switch sessions.receive(message, from: worker, now: now, scheduler: &scheduler) {
        case .drop(let reason, let detail):
            dropped(reason, peer: worker, detail)
        case .askHello(let reason, let detail):
            // Nothing it says counts until it says hello (a commit it made is found when its lease lapses).
            dropped(reason, peer: worker, detail)
            send(worker, .reset)
        case .refuse(let reason):
            logger.error("worker refused: \(reason)", metadata: ["worker": "\(worker)"])
            send(worker, .refused(reason: reason))
        case .admit(let hello):
            welcome(worker, hello, key: key)
        case .heartbeat(let forged):
            if !forged.isEmpty {
                dropped(
                    .notLeaseHolder,
                    peer: worker,
                    "heartbeat named \(forged.count) lease(s) it does not hold, e.g. \(forged.prefix(3))"
                )
            }
            send(worker, .heartbeat)
        case .credit, .ignore:
            break
        case .done(let done):
            shardDone(worker, done)
        case .failed(let failure, let disabled, let paused):
            shardFailed(worker, failure, disabled: disabled, paused: paused)
        case .fenced(let shard, let lease):
            metrics.shardsFenced.increment()
            logger.warning(
                "commit fenced: the worker's lease was gone",
                metadata: ["worker": "\(worker)", "shard": "\(shard)", "lease": "\(lease)"]
            )
            _ = scheduler.failed(token: lease, fault: .returned)
        case .late(let type, let shard, let lease):
            logger.debug(
                "\(type) for a lease already closed: ignored",
                metadata: ["worker": "\(worker)", "shard": "\(shard)", "lease": "\(lease)"]
            )
        case .left(let leases):
            logger.info("worker leaving", metadata: ["worker": "\(worker)", "returned_shards": "\(leases.count)"])
            for lease in leases { revokeInDatabase(lease) }
        }
    }

    /// A routing id as a printable name (libzmq's own ids are binary).
    static func peerName(_ id: Data) -> String {
        if let name = String(data: id, encoding: .utf8),
            name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        {
            return String(name.prefix(WireLimits.nameCharacters))
        }
        return "0x" + id.prefix(32).map { String(format: "%02x", $0) }.joined()
    }

    /// Counts a dropped message; logs the first of each reason from each peer.
    func dropped(_ reason: DropReason, peer: String, _ detail: String) {
        metrics.droppedMessages[reason]?.increment()
        let peer = sessions.keyNames[peer].map { "\(peer) (key \($0))" } ?? peer
        if offences.firstTime(peer, reason) {
            logger.warning(
                "dropped a message: \(detail) (further ones from this peer for this reason are only counted)",
                metadata: ["peer": "\(peer)", "reason": "\(reason.rawValue)"]
            )
        }
    }

    /// An admitted hello: the registry checks its models, the workers table records it, and it is welcomed.
    private func welcome(_ worker: String, _ hello: WorkerMessage.Hello, key: Peer?) {
        var accepted = Set<String>()
        if let db = connectedDatabase() {
            let catalog = Catalog(db)
            for model in hello.models {
                do {
                    guard let registered = try catalog.model(named: model.name) else { continue }
                    let samePrompts = model.prompts.map { ModelFolder.samePrompts($0, registered.prompts) } ?? true
                    if registered.weightsHash == model.weightsHash && samePrompts {
                        // Dealt `NAME` for float32, `NAME:int8` … for the precisions it runs (ModelName.workerKey).
                        accepted.formUnion(model.runnableNames)
                    } else {
                        let reason =
                            registered.weightsHash != model.weightsHash
                            ? "its weights (sha256 \(model.weightsHash.prefix(16))…) differ from the registry's "
                                + "(\(registered.weightsHash.prefix(16))…); no shards of \(model.name) will be dealt to it"
                            : "its prompts \(model.prompts ?? "") differ from the registry's \(registered.prompts) "
                                + "(documents of one index are embedded with one prompt); no shards of \(model.name) will be dealt to it"
                        logger.error(
                            "worker's model refused: \(reason)",
                            metadata: ["worker": "\(worker)", "model": "\(model.name)"]
                        )
                        send(worker, .modelRefused(model: model.name, reason: reason))
                    }
                } catch {
                    databaseFailed(error)
                }
            }
            let models = hello.models.map { "{\"name\": \"\($0.name)\", \"sha256\": \"\($0.weightsHash)\"}" }.joined(
                separator: ", "
            )
            do {
                try JobStore(db).recordWorker(
                    id: worker,
                    host: hello.host,
                    version: hello.version,
                    threads: hello.threads,
                    models: "[\(models)]"
                )
            } catch {
                databaseFailed(error)
            }
        } else {
            // Without the registry nothing can be checked: accept nothing until the worker says hello again.
            logger.warning(
                "worker hello while the database is unreachable; it will retry",
                metadata: ["worker": "\(worker)"]
            )
            return
        }
        sessions.joined(worker, hello: hello, models: accepted, key: key?.name, now: now, scheduler: &scheduler)
        logger.info(
            "worker joined",
            metadata: [
                "worker": "\(worker)", "host": "\(hello.host)", "version": "\(hello.version)",
                "threads": "\(hello.threads)", "models": "\(accepted.sorted())", "key": "\(key?.name ?? "none")",
            ]
        )
        send(
            worker,
            .welcome(
                .init(
                    coordinator: name,
                    heartbeatSeconds: configuration.heartbeatSeconds,
                    leaseSeconds: configuration.leaseSeconds
                )
            )
        )
    }

    private func shardDone(_ worker: String, _ done: WorkerMessage.ShardDone) {
        // The holder says it committed; the database says whether it did.
        // Unverifiable without the database: the lease lapses and its revocation finds out.
        guard let db = connectedDatabase() else { return }
        do {
            let state = try JobStore(db).shardState(done.shard)
            guard state == .done else {
                dropped(
                    .notCommitted,
                    peer: worker,
                    "shard_done for shard \(done.shard), which the database shows \(state.map(\.rawValue) ?? "missing"): dealt again"
                )
                if let lease = scheduler.leases[done.lease] {
                    _ = scheduler.failed(token: done.lease, fault: .returned)
                    revokeInDatabase(lease)
                }
                return
            }
        } catch {
            databaseFailed(error)
            return
        }
        let lease = scheduler.leases[done.lease]
        let job = scheduler.shards[done.shard]?.record.job
        let others = scheduler.completed(
            shard: done.shard,
            token: done.lease,
            documents: done.documents,
            tokens: done.tokens,
            embedSeconds: done.embedSeconds,
            now: now
        )
        metrics.shardsDone.increment()
        metrics.documentsIndexed.increment(by: Int64(done.documents))
        metrics.tokensIndexed.increment(by: Int64(done.tokens))
        if let lease { metrics.shardSeconds.record(.seconds(now - lease.granted)) }
        if done.embedSeconds > 0 {
            metrics.docsPerSecond.set(Double(done.documents) / (done.embedSeconds + done.commitSeconds))
        }
        for other in others {
            // Copies of the same shard: their holders stop (their commit would be fenced anyway).
            sendRevoke(other)
        }
        logger.debug(
            "shard committed",
            metadata: [
                "worker": "\(worker)", "shard": "\(done.shard)", "lease": "\(done.lease)",
                "documents": "\(done.documents)",
                "embed_s": "\(String(format: "%.2f", done.embedSeconds))",
                "commit_s": "\(String(format: "%.3f", done.commitSeconds))",
            ]
        )
        lifecycle.check(job)
    }

    private func shardFailed(_ worker: String, _ failure: WorkerMessage.ShardFailed, disabled: String?, paused: Bool) {
        metrics.shardsFailed[failure.fault]?.increment()
        logger.warning(
            "shard failed on a worker (\(failure.fault.rawValue) fault)",
            metadata: [
                "worker": "\(worker)", "shard": "\(failure.shard)", "lease": "\(failure.lease)",
                "fault": "\(failure.fault.rawValue)", "error": "\(failure.error)",
            ]
        )
        if let disabled {
            logger.error(
                "worker unhealthy: it cannot run \(disabled); its shards go to other workers",
                metadata: ["worker": "\(worker)", "model": "\(disabled)", "reason": "\(failure.error)"]
            )
        }
        if paused {
            logger.warning(
                "worker's database failed a commit: nothing dealt to it for \(Int(scheduler.configuration.databasePauseSeconds)) s",
                metadata: ["worker": "\(worker)"]
            )
        }
        let lease = scheduler.leases[failure.lease]
        switch scheduler.failed(token: failure.lease, fault: failure.fault, certain: failure.certain) {
        case .retry, .ignore:
            if let lease { revokeInDatabase(lease) }
        case .isolate(let record):
            isolate(record, error: failure.error)
        }
    }
}

extension WireError {
    /// The metric label of a message that failed to decode.
    var dropReason: DropReason {
        switch self {
        case .invalid: .invalid
        case .malformed, .unknownType: .malformed
        }
    }
}
