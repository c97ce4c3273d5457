import Foundation
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
        if case .hello(let hello) = message {
            welcome(worker, hello, key: key)
            return
        }
        guard scheduler.seen(worker, now: now) else {
            // Unknown: the coordinator restarted, or declared the worker dead, or the peer never said
            // hello. Nothing it says counts until it does (a commit it made is found when its lease lapses).
            if case .goodbye = message { return }
            dropped(.notWelcomed, peer: worker, "\(message.typeName) before hello: asked to say hello")
            send(worker, .reset)
            return
        }
        switch message {
        case .hello: break
        case .ready(let credit): scheduler.addCredit(worker, credit)
        case .heartbeat(let leases):
            let foreign = scheduler.heartbeat(worker, leases: leases, now: now)
            let forged = foreign.filter { !scheduler.held(worker, token: $0) }
            if !forged.isEmpty {
                dropped(
                    .notLeaseHolder,
                    peer: worker,
                    "heartbeat named \(forged.count) lease(s) it does not hold, e.g. \(forged.prefix(3))"
                )
            }
            send(worker, .heartbeat)
        case .shardDone(let done):
            guard leaseCheck(worker, "shard_done", token: done.lease, shard: done.shard) else { return }
            shardDone(worker, done)
        case .shardFailed(let failure):
            guard leaseCheck(worker, "shard_failed", token: failure.lease, shard: failure.shard) else { return }
            shardFailed(worker, failure)
        case .shardFenced(let shard, let lease):
            guard leaseCheck(worker, "shard_fenced", token: lease, shard: shard) else { return }
            metrics.shardsFenced.increment()
            logger.warning(
                "commit fenced: the worker's lease was gone",
                metadata: ["worker": "\(worker)", "shard": "\(shard)", "lease": "\(lease)"]
            )
            _ = scheduler.failed(token: lease, fault: .returned)
        case .goodbye(let returning):
            logger.info("worker leaving", metadata: ["worker": "\(worker)", "returned_shards": "\(returning.count)"])
            for lease in scheduler.leave(worker) { revokeInDatabase(lease) }
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

    /// Whether a lease message counts: the sender must hold `token` on `shard`. A late report on a
    /// lease the sender held until recently is a race (debug log); anything else is an offence.
    private func leaseCheck(_ worker: String, _ type: String, token: Int64, shard: Int64) -> Bool {
        if scheduler.holds(worker, token: token, shard: shard) { return true }
        if scheduler.held(worker, token: token, shard: shard) {
            logger.debug(
                "\(type) for a lease already closed: ignored",
                metadata: ["worker": "\(worker)", "shard": "\(shard)", "lease": "\(token)"]
            )
        } else {
            dropped(.notLeaseHolder, peer: worker, "\(type) for shard \(shard), lease \(token), which it does not hold")
        }
        return false
    }

    /// Counts a dropped message; logs the first of each reason from each peer.
    func dropped(_ reason: DropReason, peer: String, _ detail: String) {
        metrics.droppedMessages[reason]?.increment()
        let peer = peerNames[peer].map { "\(peer) (key \($0))" } ?? peer
        if offences.firstTime(peer, reason) {
            logger.warning(
                "dropped a message: \(detail) (further ones from this peer for this reason are only counted)",
                metadata: ["peer": "\(peer)", "reason": "\(reason.rawValue)"]
            )
        }
    }

    private func welcome(_ worker: String, _ hello: WorkerMessage.Hello, key: Peer?) {
        // Each hello reads the registry and writes the workers table on this thread: one a second per peer.
        if let last = lastHello[worker], now - last < 1 {
            dropped(.tooFrequent, peer: worker, "a hello \(String(format: "%.2f", now - last)) s after the last one")
            return
        }
        lastHello[worker] = now
        if lastHello.count > scheduler.workers.count + 1000 { lastHello = lastHello.filter { now - $0.value < 1 } }
        guard hello.protocolVersion == WireProtocol.version else {
            logger.error(
                "worker refused: protocol version \(hello.protocolVersion), this coordinator speaks \(WireProtocol.version)",
                metadata: ["worker": "\(worker)", "version": "\(hello.version)"]
            )
            send(
                worker,
                .refused(
                    reason:
                        "protocol version \(hello.protocolVersion) is not supported; the coordinator speaks version \(WireProtocol.version)"
                )
            )
            return
        }
        guard hello.worker == worker else {
            dropped(
                .invalid,
                peer: worker,
                "a hello whose worker id (\(hello.worker.prefix(64))) differs from its routing id"
            )
            return
        }
        var accepted = Set<String>()
        if let db = connectedDatabase() {
            let catalog = Catalog(db)
            for model in hello.models {
                do {
                    guard let registered = try catalog.model(named: model.name) else { continue }
                    if registered.weightsHash == model.weightsHash {
                        accepted.insert(model.name)
                    } else {
                        let reason =
                            "its weights (sha256 \(model.weightsHash.prefix(16))…) differ from the registry's "
                            + "(\(registered.weightsHash.prefix(16))…); no shards of \(model.name) will be dealt to it"
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
        scheduler.join(id: worker, host: hello.host, threads: hello.threads, models: accepted, now: now)
        if let key { peerNames[worker] = key.name }
        if peerNames.count > scheduler.workers.count + 1000 {
            peerNames = peerNames.filter { scheduler.workers[$0.key] != nil }
        }
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
            guard state == "done" else {
                dropped(
                    .notCommitted,
                    peer: worker,
                    "shard_done for shard \(done.shard), which the database shows \(state ?? "missing"): dealt again"
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
            if let holder = other.worker { send(holder, .revoke(shard: other.shard, lease: other.token)) }
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

    private func shardFailed(_ worker: String, _ failure: WorkerMessage.ShardFailed) {
        metrics.shardsFailed[failure.fault]?.increment()
        logger.warning(
            "shard failed on a worker (\(failure.fault.rawValue) fault)",
            metadata: [
                "worker": "\(worker)", "shard": "\(failure.shard)", "lease": "\(failure.lease)",
                "fault": "\(failure.fault.rawValue)", "error": "\(failure.error)",
            ]
        )
        switch failure.fault {
        case .worker:
            // A machine fault: this worker gets no more of the model's shards; the others carry on.
            if let model = scheduler.shards[failure.shard]?.model,
                scheduler.workers[worker]?.unhealthy[model] == nil
            {
                scheduler.disable(model: model, on: worker, reason: failure.error)
                logger.error(
                    "worker unhealthy: it cannot run \(model); its shards go to other workers",
                    metadata: ["worker": "\(worker)", "model": "\(model)", "reason": "\(failure.error)"]
                )
            }
        case .database:
            scheduler.pause(worker, reason: failure.error, now: now)
            logger.warning(
                "worker's database failed a commit: nothing dealt to it for \(Int(scheduler.configuration.databasePauseSeconds)) s",
                metadata: ["worker": "\(worker)"]
            )
        case .document, .returned:
            break
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
