import Foundation
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

    /// The open upload `job`, when `upload` is its token; otherwise the failure to reply.
    private func ownedUpload(_ job: Int64, _ upload: String, from peer: Data) throws(ClientFailure) -> Upload {
        guard let open = receiving[job] else { throw ClientFailure(message: "job \(job) is not receiving documents") }
        guard open.token.matches(upload) else {
            dropped(
                .notJobOwner,
                peer: Self.peerName(peer),
                "documents or seal for job \(job), opened by another client"
            )
            throw ClientFailure(
                message: "job \(job) was opened by another client: only it may add documents to it or seal it"
            )
        }
        return open
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
            // Urgent jobs go before every other job's shards: with keys, only for admins.
            if submit.urgent == true, let key, key.role != .admin, key.role != .legacy {
                dropped(.forbidden, peer: key.name, "an urgent submit with role \(key.role.rawValue)")
                return .failure(
                    message: "urgent jobs need a key with the admin role; \(key.name) has role \(key.role.rawValue)"
                )
            }
            let mine = receiving.values.filter { $0.owner == peer }.count
            guard mine < Upload.perClient else {
                return .failure(
                    message:
                        "this client already has \(mine) uploads open (at most \(Upload.perClient)); seal them first"
                )
            }
            guard receiving.count < Upload.inAll else {
                return .failure(
                    message:
                        "the coordinator has \(receiving.count) uploads open (at most \(Upload.inAll)); try again when some are sealed"
                )
            }
            let index = try Catalog(db).index(named: submit.index, model: submit.model)
            let job = try store.createJob(index: index, source: submit.source, shardSize: submit.shardSize)
            let token = UploadToken()
            receiving[job] = Upload(
                index: index,
                shardSize: submit.shardSize,
                nextSeq: 0,
                token: token,
                owner: peer,
                lastActivity: now
            )
            if submit.urgent == true { urgentJobs.insert(job) }
            logger.info(
                "job submitted",
                metadata: [
                    "job": "\(job)", "index": "\(submit.index)", "model": "\(submit.model)",
                    "source": "\(submit.source)",
                    "shard_size": "\(submit.shardSize)", "urgent": "\(submit.urgent == true)",
                    "key": "\(key?.name ?? "none")",
                ]
            )
            return .accepted(job: job, upload: token.text)

        case .documents(let job, let upload, let documents):
            let open = try ownedUpload(job, upload, from: peer)
            let staged = documents.map {
                StagedDocument(seq: 0, line: $0.line, id: $0.id, title: $0.title, text: $0.text, metadata: $0.metadata)
            }
            do { try store.stage(job: job, firstSeq: open.nextSeq, documents: staged) } catch {
                // The upload is in an unknown state: nothing of it is kept (submit it again once fixed).
                guard !error.isConnectionLoss else { throw error }
                let lines = documents.isEmpty ? "" : " (lines \(documents.first!.line)–\(documents.last!.line))"
                abandon(job, reason: "staging documents\(lines) failed: \(error)")
                throw ClientFailure(
                    message:
                        "job \(job) failed: staging documents\(lines) failed: \(error); nothing of it was kept"
                )
            }
            receiving[job]!.nextSeq += documents.count
            receiving[job]!.lastActivity = now
            return .ack(job: job, received: receiving[job]!.nextSeq)

        case .rejected(let job, let upload, let lines):
            _ = try ownedUpload(job, upload, from: peer)
            for line in lines { try store.recordRejected(job: job, line: line.line, docId: line.id, error: line.error) }
            receiving[job]!.lastActivity = now
            return .ack(job: job, received: receiving[job]!.nextSeq)

        case .abandon(let job, let upload):
            let open = try ownedUpload(job, upload, from: peer)
            abandon(job, reason: "the client gave the upload up after \(open.nextSeq) documents; submit it again")
            return .ack(job: job, received: 0)

        case .seal(let job, let upload, let count):
            let open = try ownedUpload(job, upload, from: peer)
            guard count == open.nextSeq else {
                return .failure(message: "job \(job): the client sent \(count) documents but \(open.nextSeq) arrived")
            }
            guard open.nextSeq <= configuration.sealBatch else {
                // Big: sealed a step per loop turn (bounded transactions); the client polls status.
                receiving.removeValue(forKey: job)
                sealing[job] = Sealing(upload: open, next: 0, count: open.nextSeq)
                logger.info(
                    "job sealing in steps of \(configuration.sealBatch) documents",
                    metadata: ["job": "\(job)", "documents": "\(open.nextSeq)"]
                )
                return .sealing(job: job)
            }
            let sealed = try store.seal(
                job: job,
                index: open.index,
                shardSize: open.shardSize,
                staged: open.nextSeq
            )
            receiving.removeValue(forKey: job)
            try startDealing(job, open, sealed, db: db)
            return .sealed(.init(job: job, shards: sealed.shards, toEmbed: sealed.toEmbed, unchanged: sealed.unchanged))

        case .status(let job):
            let summaries = try store.summaries(job: job)
            if let job, summaries.isEmpty { return .failure(message: "unknown job \(job)") }
            return .status(statusReport(summaries))
        }
    }

    /// A sealed job's shards go to the scheduler.
    func startDealing(
        _ job: Int64,
        _ upload: Upload,
        _ sealed: (shards: Int, toEmbed: Int, unchanged: Int),
        db: PostgresConnection
    ) throws {
        jobs[job] = JobRecord(id: job, index: upload.index, state: "running")
        scheduler.add(
            try JobStore(db).openShards(job: job),
            model: upload.index.model.name,
            atFront: urgentJobs.contains(job)
        )
        jobsToCheck.insert(job)
        logger.info(
            "job sealed: dealing shards",
            metadata: [
                "job": "\(job)", "shards": "\(sealed.shards)", "to_embed": "\(sealed.toEmbed)",
                "unchanged": "\(sealed.unchanged)",
            ]
        )
    }

    /// One step of each job being sealed in steps (a bounded transaction each, once per loop turn).
    func advanceSeals() {
        guard !sealing.isEmpty, !databaseBusy, let db = connectedDatabase() else { return }
        for (job, var progress) in sealing.sorted(by: { $0.key < $1.key }) {
            let store = JobStore(db)
            do {
                if progress.next < progress.count {
                    let through = min(progress.next + configuration.sealBatch, progress.count) - 1
                    let step = try store.sealStep(
                        job: job,
                        index: progress.upload.index,
                        from: progress.next,
                        through: through,
                        shardSize: progress.upload.shardSize
                    )
                    progress.next = through + 1
                    sealing[job] = progress
                    logger.debug(
                        "sealing step",
                        metadata: [
                            "job": "\(job)", "checked": "\(progress.next)", "of": "\(progress.count)",
                            "unchanged": "\(step.unchanged)", "shards": "\(step.shards)",
                        ]
                    )
                } else {
                    let sealed = try store.startJob(job: job)
                    sealing.removeValue(forKey: job)
                    try startDealing(job, progress.upload, sealed, db: db)
                }
            } catch let error as StoreError where !error.isConnectionLoss && !DatabaseTimeouts.isTimeout(error) {
                // Not the database's state of health: the job cannot be sealed (failed meanwhile?).
                sealing.removeValue(forKey: job)
                logger.error("sealing stopped: \(error)", metadata: ["job": "\(job)"])
            } catch {
                databaseFailed(error)
                return
            }
        }
    }

    /// Fails an open upload and deletes what it staged (the client gave up, went away, or staging
    /// failed). Kept open when the database cannot be reached: expiry tries again.
    func abandon(_ job: Int64, reason: String) {
        guard let db = connectedDatabase() else { return }
        do {
            let staged = try JobStore(db).abandonUpload(job: job, error: reason)
            receiving.removeValue(forKey: job)
            urgentJobs.remove(job)
            logger.warning(
                "upload abandoned: job failed, its staged documents deleted",
                metadata: ["job": "\(job)", "deleted": "\(staged)", "reason": "\(reason)"]
            )
        } catch {
            databaseFailed(error)
        }
    }

    /// Uploads that sent nothing for `uploadIdleSeconds` (the client died, hung or was cut off).
    func expireIdleUploads() {
        for (job, upload) in receiving where now - upload.lastActivity > configuration.uploadIdleSeconds {
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
                etaSeconds: job.state == "running" && rate > 0 ? Double(max(0, remaining)) / rate : nil,
                error: job.error,
                phase: job.state == "indexing"
                    ? indexBuilds.progress(job: job.id) ?? "building the HNSW index"
                    : sealing[job.id].map { "sealing: \($0.next) of \($0.count) documents checked" }
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
                peer: peerNames[worker.id],
                problems: worker.unhealthy.sorted { $0.key < $1.key }.map { "cannot run \($0.key): \($0.value)" }
                    + (worker.pausedUntil > now ? ["database: \(worker.databaseProblem ?? "?")"] : [])
            )
        }
        return StatusReport(coordinator: name, jobs: jobs, workers: workers)
    }
}

/// A job whose documents are arriving, and who may send them.
struct Upload {
    /// Open uploads one client connection may have, and the coordinator in all.
    static let perClient = 8
    static let inAll = 256
    var index: IndexRecord
    var shardSize: Int
    var nextSeq: Int
    var token: UploadToken
    /// The routing id of the client connection that opened it.
    var owner: Data
    /// When the client last sent documents for it (an idle upload expires).
    var lastActivity: Double
}

/// A job being sealed in steps: its upload, and the next document number to check.
struct Sealing {
    var upload: Upload
    var next: Int
    var count: Int
}

/// The secret an `accepted` reply hands the client that opened a job (128 random bits).
struct UploadToken {
    let text: String

    init() {
        var generator = SystemRandomNumberGenerator()
        text = (0..<2).map { _ in
            let value = generator.next() as UInt64
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Compared in time independent of where they differ.
    func matches(_ other: String) -> Bool {
        let a = Array(text.utf8)
        let b = Array(other.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// A request refused for what it asks (answered `failure`; not a database error).
struct ClientFailure: Error { var message: String }
