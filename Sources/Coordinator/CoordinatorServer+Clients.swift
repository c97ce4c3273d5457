import Embedding
import Foundation
import JobStates
import Logging
import PostgresClient
import Store
import Wire

extension CoordinatorServer {
    /// One request from `coord submit` / `coord status`: `[routing id, JSON]`.
    func handleClientFrames(_ frames: [Data], _ key: Peer?) {
        guard frames.count == 2 else {
            dropped(
                .malformed,
                peer: frames.first.map(Self.peerName) ?? "?",
                "a client message of \(frames.count) frames (expected 2)"
            )
            return
        }
        let peer = frames[0]
        let request: ClientRequest
        do { request = try WireProtocol.decode(ClientRequest.self, from: frames[1]) } catch {
            dropped(error.dropReason, peer: Self.peerName(peer), "client: \(error) (\(frames[1].count) bytes)")
            reply(peer, .failure(message: "\(error)"))
            return
        }
        // A client's replies keep the order of its requests: behind its chunks, a request waits.
        if clientOrder.mustWait(request, from: peer) {
            if !clientOrder.hold(request, key: key, from: peer) {
                dropped(
                    .malformed,
                    peer: Self.peerName(peer),
                    "more than \(ClientRequestOrder.heldPerClient) requests sent behind chunks still being staged"
                )
                reply(
                    peer,
                    .failure(
                        message:
                            "more than \(ClientRequestOrder.heldPerClient) requests are waiting behind this client's chunks: wait for the replies"
                    )
                )
            }
            return
        }
        respond(to: request, from: peer, key: key)
    }

    /// Answers `request`, or hands a chunk to the stager (answered by ``replyToStagedChunks()``).
    private func respond(to request: ClientRequest, from peer: Data, key: Peer?) {
        if case .documents(let job, let upload, let documents) = request {
            do {
                _ = try ownedUpload(job, upload, from: peer)
                let firstSeq = lifecycle.queued(job, count: documents.count, now: now)
                stager.enqueue(.init(job: job, firstSeq: firstSeq, documents: documents, peer: peer))
                clientOrder.chunkQueued(from: peer)
            } catch  where clientOrder.chunksInFlight(peer) > 0 {
                // Its refusal is its reply: after those of the chunks before it.
                stager.enqueue(.init(job: job, firstSeq: 0, documents: [], peer: peer, refusal: error.message))
                clientOrder.chunkQueued(from: peer)
            } catch {
                reply(peer, .failure(message: error.message))
            }
            return
        }
        guard let db = connectedDatabase() else {
            reply(peer, .failure(message: "the coordinator cannot reach its database right now; try again"))
            return
        }
        do {
            reply(peer, try answer(request, from: peer, key: key, db: db))
        } catch let failure as ClientFailure {
            reply(peer, .failure(message: failure.message))
        } catch {
            databaseFailed(error)
            reply(peer, .failure(message: "\(error)"))
        }
    }

    /// Replies to the chunks the stager has written (or not), in the order they came, and answers
    /// what their clients sent behind them.
    func replyToStagedChunks() {
        for chunk in stager.takeFinished() {
            reply(chunk.peer, stagedChunkReply(chunk))
            clientOrder.chunkDone(from: chunk.peer)
            while let next = clientOrder.release(chunk.peer) {
                respond(to: next.request, from: chunk.peer, key: next.key)
            }
        }
    }

    private func stagedChunkReply(_ chunk: UploadStager.Finished) -> ClientReply {
        let lines = chunk.lines.map { " (lines \($0.lowerBound)–\($0.upperBound))" } ?? ""
        switch chunk.outcome {
        case .staged(let duplicates):
            if let first = duplicates.first {
                logger.warning(
                    "duplicate ids recorded as rejected (--skip-invalid): the first of each is kept",
                    metadata: ["job": "\(chunk.job)", "count": "\(duplicates.count)", "first": "\(first.error)"]
                )
            }
            guard let received = lifecycle.staged(chunk.job, count: chunk.count, now: now) else {
                return .failure(message: "job \(chunk.job) is not receiving documents")
            }
            return .ack(job: chunk.job, received: received)
        case .failed(let error):
            // The upload is in an unknown state: nothing of it is kept (submit it again once fixed).
            lifecycle.staged(chunk.job, count: chunk.count, stored: false, now: now)
            if error.isConnectionLoss {
                metrics.databaseErrors.increment()
                logger.error(
                    "staging documents\(lines) lost its database connection twice: \(error)",
                    metadata: ["job": "\(chunk.job)"]
                )
            }
            abandon(chunk.job, reason: "staging documents\(lines) failed: \(error)")
            return .failure(
                message: "job \(chunk.job) failed: staging documents\(lines) failed: \(error); nothing of it was kept"
            )
        case .refused(let message):
            return .failure(message: message)
        case .skipped:
            lifecycle.staged(chunk.job, count: chunk.count, stored: false, now: now)
            return .failure(
                message:
                    "job \(chunk.job): documents\(lines) not staged: an earlier chunk failed or the upload was given up"
            )
        }
    }

    /// The open upload `job`, when `upload` is its token; otherwise the failure to reply.
    private func ownedUpload(_ job: Int64, _ upload: String, from peer: Data) throws(ClientFailure) -> JobLifecycle.Job
    {
        do { return try lifecycle.upload(job, token: upload) } catch {
            if error == .notOwner(job) {
                dropped(
                    .notJobOwner,
                    peer: Self.peerName(peer),
                    "documents or seal for job \(job), opened by another client"
                )
            }
            throw ClientFailure(message: error.message)
        }
    }

    private func answer(
        _ request: ClientRequest,
        from peer: Data,
        key: Peer?,
        db: PostgresConnection
    ) throws -> ClientReply {
        let store = JobStore(db)
        switch request {
        case .submit(let submit):
            guard submit.protocolVersion == WireProtocol.version else {
                return .failure(
                    message:
                        "protocol version \(submit.protocolVersion) is not supported; the coordinator speaks \(WireProtocol.version)"
                )
            }
            guard (1...100_000).contains(submit.shardSize) else {
                return .failure(message: "shard size \(submit.shardSize) is out of range (1 to 100000)")
            }
            guard !submit.index.isEmpty, submit.index.count <= 200 else {
                return .failure(message: "the index name must have 1 to 200 characters")
            }
            if let refusal = refuseUrgent(submit.urgent, "submit", key: key) { return refusal }
            if let refusal = lifecycle.refusalToOpen(owner: peer) { return .failure(message: refusal) }
            var storage: VectorStorage?
            if let requested = submit.storage {
                guard let known = VectorStorage(rawValue: requested) else {
                    return .failure(
                        message:
                            "unknown storage \"\(requested)\": \(VectorStorage.allCases.map(\.rawValue).joined(separator: " or "))"
                    )
                }
                storage = known
            }
            if let instruction = submit.instruction {
                guard !instruction.isEmpty, instruction.count <= 4000 else {
                    return .failure(message: "the instruction must have 1 to 4000 characters")
                }
                let catalog = Catalog(db)
                let modelName = submit.model.isEmpty ? try catalog.index(named: submit.index)?.model.name : submit.model
                if let modelName, let record = try catalog.model(named: modelName),
                    !PromptTemplate(record.queryPrompt ?? "").takesInstruction
                {
                    return .failure(
                        message:
                            "model \(modelName)'s query prompt has no place for an instruction (a {task} slot, or \"Instruct: …\\nQuery:\"): an instruction would change nothing"
                    )
                }
            }
            let route = try IndexRoute.resolve(
                submit.index,
                model: submit.model,
                storage: storage,
                instruction: submit.instruction,
                connection: db
            )
            let index = route.target
            let job = try store.createJob(
                index: index,
                source: submit.source,
                shardSize: submit.shardSize,
                then: route.then,
                mirror: submit.mirror == true,
                skipInvalid: submit.skipInvalid == true
            )
            let token = lifecycle.opened(
                job: job,
                index: index,
                shardSize: submit.shardSize,
                urgent: submit.urgent == true,
                owner: peer,
                now: now
            )
            logger.info(
                "job submitted",
                metadata: [
                    "job": "\(job)", "index": "\(submit.index)", "generation": "\(index.name)",
                    "model": "\(index.model.name)", "serving": "\(route.serving.mode.rawValue)",
                    "then": "\(route.then.map(\.name).joined(separator: ","))",
                    "source": "\(submit.source)",
                    "shard_size": "\(submit.shardSize)", "urgent": "\(submit.urgent == true)",
                    "key": "\(key?.name ?? "none")", "mirror": "\(submit.mirror == true)",
                ]
            )
            return .accepted(job: job, upload: token.text)

        case .documents:
            preconditionFailure("chunks go to the stager (respond(to:from:key:))")

        case .rejected(let job, let upload, let lines):
            let open = try ownedUpload(job, upload, from: peer)
            for line in lines { try store.recordRejected(job: job, line: line.line, docId: line.id, error: line.error) }
            lifecycle.touched(job, now: now)
            return .ack(job: job, received: open.staged)

        case .abandon(let job, let upload):
            let open = try ownedUpload(job, upload, from: peer)
            abandon(job, reason: "the client gave the upload up after \(open.staged) documents; submit it again")
            return .ack(job: job, received: 0)

        case .seal(let job, let upload, let count):
            return try seal(try ownedUpload(job, upload, from: peer), count: count, db: db)

        case .reembed(let request):
            if let refusal = refuseUrgent(request.urgent, "reembed", key: key) { return refusal }
            if let refusal = lifecycle.refusalToOpen(owner: peer) { return .failure(message: refusal) }
            let catalog = Catalog(db)
            guard let index = try catalog.index(named: request.index) else {
                return .failure(message: "unknown index \(request.index)")
            }
            guard request.successor.hasPrefix(index.name + "@"),
                let successor = try catalog.index(named: request.successor)
            else {
                return .failure(
                    message:
                        "\(request.successor) is not a successor index of \(index.name) (`coord upgrade` or `coord reindex` makes one)"
                )
            }
            let job = try store.createJob(
                index: successor,
                source: "documents of \(index.name), embedded again",
                shardSize: request.shardSize
            )
            let staged = try store.stageForSuccessor(job: job, index: index, successor: successor, ids: request.ids)
            let token = lifecycle.opened(
                job: job,
                index: successor,
                shardSize: request.shardSize,
                urgent: request.urgent == true,
                owner: peer,
                now: now
            )
            lifecycle.staged(job, count: staged, now: now)
            logger.info(
                "job submitted: documents embedded again for a successor",
                metadata: [
                    "job": "\(job)", "index": "\(index.name)", "successor": "\(successor.name)",
                    "model": "\(successor.model.name)", "documents": "\(staged)",
                    "urgent": "\(request.urgent == true)", "key": "\(key?.name ?? "none")",
                ]
            )
            return try seal(try ownedUpload(job, token.text, from: peer), count: staged, db: db)

        case .cancel(let job):
            let by = key.map { "\($0.name) (\($0.role.rawValue))" } ?? Self.peerName(peer)
            switch try store.cancel(job: job, reason: "cancelled by \(by)") {
            case .refused(let state):
                guard let state else { return .failure(message: "unknown job \(job)") }
                return .failure(
                    message: state == .indexing
                        ? "job \(job) is indexing: its documents are all committed, only its HNSW build remains"
                        : "job \(job) is \(state): there is nothing to cancel"
                )
            case .cancelled(let committed, let dropped):
                lifecycle.dropped(job)
                stager.cancel(job: job)
                stager.cleanUpSoon()  // its staged documents are deleted from now on
                let revoked = scheduler.cancel(job: job)
                for lease in revoked { sendRevoke(lease) }
                logger.warning(
                    "job cancelled",
                    metadata: [
                        "job": "\(job)", "by": "\(by)", "committed_shards": "\(committed)",
                        "dropped_shards": "\(dropped)", "leases_revoked": "\(revoked.count)",
                    ]
                )
                return .ack(job: job, received: committed)
            }

        case .status(let job):
            let summaries = try store.summaries(job: job)
            if let job, summaries.isEmpty { return .failure(message: "unknown job \(job)") }
            var report = statusReport(summaries)
            if job == nil {
                report.indexes = try IndexRoute.all(connection: db).map { name, route in
                    StatusReport.IndexStatus(
                        name: name,
                        mode: route.serving.mode.rawValue,
                        queryModel: route.serving.model.name,
                        documentModel: route.target.model.name,
                        generations: ([route.target] + route.then).map(\.name)
                    )
                }
            }
            return .status(report)
        }
    }

    /// Urgent jobs go before every other job's shards: with keys, only for admins. The failure to
    /// reply (and the drop counted) for an urgent `request` from another role; nil when allowed.
    private func refuseUrgent(_ urgent: Bool?, _ request: String, key: Peer?) -> ClientReply? {
        guard urgent == true, let key, key.role != .admin, key.role != .legacy else { return nil }
        dropped(.forbidden, peer: key.name, "an urgent \(request) with role \(key.role.rawValue)")
        return .failure(
            message: "urgent jobs need a key with the admin role; \(key.name) has role \(key.role.rawValue)"
        )
    }

    /// Seals an open job whose `count` documents are staged: at once, or in bounded steps (a big job).
    private func seal(_ open: JobLifecycle.Job, count: Int, db: PostgresConnection) throws -> ClientReply {
        switch lifecycle.seal(open.id, count: count) {
        case .refuse(let message):
            return .failure(message: message)
        case .inSteps(let documents):
            logger.info(
                "job sealing in steps of \(configuration.sealBatch) documents",
                metadata: ["job": "\(open.id)", "documents": "\(documents)"]
            )
            return .sealing(job: open.id)
        case .now(let documents):
            let sealed = try JobStore(db).seal(
                job: open.id,
                index: open.index,
                shardSize: open.shardSize,
                staged: documents
            )
            try startDealing(open, sealed, db: db)
            return .sealed(
                .init(
                    job: open.id,
                    shards: sealed.shards,
                    toEmbed: sealed.toEmbed,
                    unchanged: sealed.unchanged,
                    deleted: sealed.deleted
                )
            )
        }
    }

    /// A sealed job's shards go to the scheduler.
    func startDealing(
        _ job: JobLifecycle.Job,
        _ sealed: (shards: Int, toEmbed: Int, unchanged: Int, deleted: Int?),
        db: PostgresConnection
    ) throws {
        let shards = try JobStore(db).openShards(job: job.id)
        lifecycle.sealed(job.id)
        scheduler.add(shards, model: job.index.model.name, atFront: job.urgent)
        logger.info(
            "job sealed: dealing shards",
            metadata: [
                "job": "\(job.id)", "shards": "\(sealed.shards)", "to_embed": "\(sealed.toEmbed)",
                "unchanged": "\(sealed.unchanged)", "deleted": "\(sealed.deleted.map(String.init) ?? "-")",
            ]
        )
    }

    /// Hands the next step of each job being sealed in steps to the stager (a bounded transaction
    /// each, one at a time per job), and starts the jobs whose steps are all done.
    func advanceSeals() {
        let steps = lifecycle.sealSteps()
        let ready = lifecycle.sealStepsDone
        guard !steps.isEmpty || !ready.isEmpty, !databaseBusy, now >= sealStepsResumeAt else { return }
        for (sealing, from, through) in steps {
            lifecycle.sealStepHanded(sealing.id)
            stager.enqueue(
                seal: .init(
                    job: sealing.id,
                    index: sealing.index,
                    from: from,
                    through: through,
                    shardSize: sealing.shardSize
                )
            )
        }
        guard !ready.isEmpty, let db = connectedDatabase() else { return }
        let store = JobStore(db)
        var job: JobLifecycle.Job?
        do {
            for sealed in ready {
                job = sealed
                try startDealing(sealed, try store.startJob(job: sealed.id), db: db)
            }
        } catch let error as StoreError where !error.isConnectionLoss && !DatabaseTimeouts.isTimeout(error) {
            // Not the database's state of health: the job cannot be started (failed meanwhile?).
            if let job {
                lifecycle.dropped(job.id)
                logger.error("sealing stopped: \(error)", metadata: ["job": "\(job.id)"])
            }
        } catch {
            databaseFailed(error)
        }
    }

    /// Takes the seal steps the stager has done (or not).
    func takeSealSteps() {
        for sealed in stager.takeSealed() {
            let step = sealed.step
            switch sealed.outcome {
            case .success(let counts):
                lifecycle.sealStepDone(step.job, through: step.through)
                logger.debug(
                    "sealing step",
                    metadata: [
                        "job": "\(step.job)", "checked": "\(step.through + 1)",
                        "of": "\(lifecycle.jobs[step.job]?.staged ?? 0)",
                        "unchanged": "\(counts.unchanged)", "shards": "\(counts.shards)",
                    ]
                )
            case .failure(let error) where !error.isConnectionLoss && !DatabaseTimeouts.isTimeout(error):
                // Not the database's state of health: the job cannot be sealed (cancelled meanwhile?).
                lifecycle.dropped(step.job)
                logger.error("sealing stopped: \(error)", metadata: ["job": "\(step.job)"])
            case .failure(let error):
                // Handed over again in a second: the database is away or busy.
                lifecycle.sealStepNotDone(step.job)
                sealStepsResumeAt = now + 1
                metrics.databaseErrors.increment()
                logger.warning(
                    "a seal step was not done; it is tried again in 1 s: \(error)",
                    metadata: ["job": "\(step.job)"]
                )
            }
        }
    }

    /// Fails an open upload (the client gave up, went away, or staging failed); what it staged goes
    /// in steps (``UploadStager/cleanUpSoon()``). Kept open when the database cannot be reached: expiry
    /// tries again.
    /// Its chunks still with the stager are not written.
    func abandon(_ job: Int64, reason: String) {
        stager.cancel(job: job)
        guard let db = connectedDatabase() else { return }
        do {
            let failed = try JobStore(db).abandonUpload(job: job, error: reason)
            lifecycle.dropped(job)
            guard failed else { return }
            stager.cleanUpSoon()
            logger.warning(
                "upload abandoned: job failed, its staged documents to be deleted",
                metadata: ["job": "\(job)", "reason": "\(reason)"]
            )
        } catch {
            databaseFailed(error)
        }
    }

    /// Uploads that sent nothing for `uploadIdleSeconds` (the client died, hung or was cut off).
    func expireIdleUploads() {
        for job in lifecycle.idleUploads(now: now) {
            abandon(
                job,
                reason:
                    "the upload sent nothing for \(Int(configuration.uploadIdleSeconds)) s (client gone?); submit it again"
            )
        }
    }

    func statusReport(_ summaries: [JobSummary]) -> StatusReport {
        let jobs = summaries.map { job in
            let rate = job.elapsedSeconds > 0 ? Double(job.doneDocs) / job.elapsedSeconds : 0
            let remaining = job.totalDocs - job.doneDocs - job.rejectedDocs
            return StatusReport.JobStatus(
                id: job.id,
                index: job.index,
                model: job.model,
                state: job.state,
                source: job.source,
                submittedDocs: job.submittedDocs,
                unchangedDocs: job.unchangedDocs,
                totalDocs: job.totalDocs,
                doneDocs: job.doneDocs,
                rejectedDocs: job.rejectedDocs,
                shards: job.shards,
                elapsedSeconds: job.elapsedSeconds,
                docsPerSecond: rate,
                etaSeconds: job.state == .running && rate > 0 ? Double(max(0, remaining)) / rate : nil,
                error: job.error,
                phase: job.state == .indexing
                    ? indexBuilds.progress(job: job.id) ?? "building the HNSW index"
                    : lifecycle.phase(of: job.id),
                deletedDocs: job.deletedDocs
            )
        }
        let workers = scheduler.workers.values.sorted { $0.id < $1.id }.map { worker in
            StatusReport.WorkerStatus(
                id: worker.id,
                host: worker.host,
                threads: worker.threads,
                shardsInHand: worker.leases.count,
                documentsEmbedded: worker.documents,
                tokensEmbedded: worker.tokens,
                docsPerSecond: worker.embedSeconds > 0 ? Double(worker.documents) / worker.embedSeconds : 0,
                lastSeenSecondsAgo: now - worker.lastSeen,
                peer: sessions.keyNames[worker.id],
                problems: worker.unhealthy.sorted { $0.key < $1.key }.map { "cannot run \($0.key): \($0.value)" }
                    + (worker.pausedUntil > now ? ["database: \(worker.databaseProblem ?? "?")"] : []),
                models: worker.models.sorted()
            )
        }
        return StatusReport(coordinator: name, jobs: jobs, workers: workers)
    }
}

/// The secret an `accepted` reply hands the client that opened a job (128 random bits).
public struct UploadToken: Sendable {
    public let text: String

    public init() {
        var generator = SystemRandomNumberGenerator()
        text = (0..<2).map { _ in
            let value = generator.next() as UInt64
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Compared in time independent of where they differ.
    public func matches(_ other: String) -> Bool {
        let a = Array(text.utf8)
        let b = Array(other.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// A request refused for what it asks (answered `failure`; not a database error).
struct ClientFailure: Error { var message: String }
