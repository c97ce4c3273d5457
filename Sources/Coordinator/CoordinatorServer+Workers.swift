import Foundation
import Logging
import Store
import Wire

extension CoordinatorServer {
    /// One message from a worker: `[routing id, JSON]`. Anything else is logged and dropped.
    func handleWorkerFrames(_ frames: [Data]) {
        guard frames.count == 2, let worker = String(data: frames[0], encoding: .utf8) else {
            metrics.malformedMessages.increment()
            logger.warning("dropped a worker message: expected 2 frames, got \(frames.count)")
            return
        }
        let message: WorkerMessage
        do { message = try WireProtocol.decode(WorkerMessage.self, from: frames[1]) } catch {
            metrics.malformedMessages.increment()
            logger.warning(
                "dropped a worker message: \(error)",
                metadata: ["worker": "\(worker)", "bytes": "\(frames[1].count)"]
            )
            return
        }
        if case .hello(let hello) = message {
            welcome(worker, hello)
            return
        }
        guard scheduler.seen(worker, now: now) else {
            // Unknown: the coordinator restarted, or declared the worker dead. It must say hello again.
            if case .goodbye = message { return }
            send(worker, .reset)
            // Its commit happened in the database either way; account for it.
            if case .shardDone(let done) = message { shardDone(worker, done) }
            return
        }
        switch message {
        case .hello: break
        case .ready(let credit): scheduler.addCredit(worker, credit)
        case .heartbeat(let leases):
            scheduler.heartbeat(worker, leases: leases, now: now)
            send(worker, .heartbeat)
        case .shardDone(let done): shardDone(worker, done)
        case .shardFailed(let failure): shardFailed(worker, failure)
        case .shardFenced(let shard, let lease):
            metrics.shardsFenced.increment()
            logger.warning(
                "commit fenced: the worker's lease was gone",
                metadata: ["worker": "\(worker)", "shard": "\(shard)", "lease": "\(lease)"]
            )
            _ = scheduler.failed(token: lease, countsAsAttempt: false)
        case .goodbye(let returning):
            logger.info("worker leaving", metadata: ["worker": "\(worker)", "returned_shards": "\(returning.count)"])
            for lease in scheduler.leave(worker) { revokeInDatabase(lease) }
        }
    }

    private func welcome(_ worker: String, _ hello: WorkerMessage.Hello) {
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
            metrics.malformedMessages.increment()
            logger.warning(
                "dropped a hello whose worker id differs from its routing id",
                metadata: ["worker": "\(worker)", "claims": "\(hello.worker)"]
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
        logger.info(
            "worker joined",
            metadata: [
                "worker": "\(worker)", "host": "\(hello.host)", "version": "\(hello.version)",
                "threads": "\(hello.threads)", "models": "\(accepted.sorted())",
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
        if let job { jobsToCheck.insert(job) } else { for job in jobs.keys { jobsToCheck.insert(job) } }
    }

    private func shardFailed(_ worker: String, _ failure: WorkerMessage.ShardFailed) {
        metrics.shardsFailed.increment()
        logger.warning(
            "shard failed on a worker",
            metadata: [
                "worker": "\(worker)", "shard": "\(failure.shard)", "lease": "\(failure.lease)",
                "error": "\(failure.error)",
            ]
        )
        let lease = scheduler.leases[failure.lease]
        switch scheduler.failed(token: failure.lease, countsAsAttempt: !failure.retryElsewhere) {
        case .retry, .ignore:
            if let lease { revokeInDatabase(lease) }
        case .isolate(let record):
            isolate(record, error: failure.error)
        }
    }
}
