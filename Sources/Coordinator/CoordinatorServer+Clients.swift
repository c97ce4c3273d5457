import Foundation
import Logging
import PostgresClient
import Store
import Wire

extension CoordinatorServer {
    /// One request from `coord submit` / `coord status`: `[routing id, JSON]`.
    func handleClientFrames(_ frames: [Data]) {
        guard frames.count == 2 else {
            metrics.malformedMessages.increment()
            logger.warning("dropped a client message: expected 2 frames, got \(frames.count)")
            return
        }
        let peer = frames[0]
        let request: ClientRequest
        do { request = try WireProtocol.decode(ClientRequest.self, from: frames[1]) } catch {
            metrics.malformedMessages.increment()
            logger.warning("dropped a client message: \(error)", metadata: ["bytes": "\(frames[1].count)"])
            reply(peer, .failure(message: "\(error)"))
            return
        }
        guard let db = connectedDatabase() else {
            reply(peer, .failure(message: "the coordinator cannot reach its database right now; try again"))
            return
        }
        do {
            reply(peer, try answer(request, db: db))
        } catch {
            databaseFailed(error)
            reply(peer, .failure(message: "\(error)"))
        }
    }

    private func answer(_ request: ClientRequest, db: PostgresConnection) throws -> ClientReply {
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
            let index = try Catalog(db).index(named: submit.index, model: submit.model)
            let job = try store.createJob(index: index, source: submit.source, shardSize: submit.shardSize)
            receiving[job] = (index, submit.shardSize, 0)
            if submit.urgent == true { urgentJobs.insert(job) }
            logger.info(
                "job submitted",
                metadata: [
                    "job": "\(job)", "index": "\(submit.index)", "model": "\(submit.model)",
                    "source": "\(submit.source)",
                    "shard_size": "\(submit.shardSize)", "urgent": "\(submit.urgent == true)",
                ]
            )
            return .accepted(job: job)

        case .documents(let job, let documents):
            guard let open = receiving[job] else { return .failure(message: "job \(job) is not receiving documents") }
            let staged = documents.map {
                StagedDocument(seq: 0, line: $0.line, id: $0.id, title: $0.title, text: $0.text, metadata: $0.metadata)
            }
            try store.stage(job: job, firstSeq: open.nextSeq, documents: staged)
            receiving[job]!.nextSeq += documents.count
            return .ack(job: job, received: receiving[job]!.nextSeq)

        case .rejected(let job, let lines):
            guard receiving[job] != nil else { return .failure(message: "job \(job) is not receiving documents") }
            for line in lines { try store.recordRejected(job: job, line: line.line, docId: line.id, error: line.error) }
            return .ack(job: job, received: receiving[job]!.nextSeq)

        case .seal(let job, let count):
            guard let open = receiving[job] else { return .failure(message: "job \(job) is not receiving documents") }
            guard count == open.nextSeq else {
                return .failure(message: "job \(job): the client sent \(count) documents but \(open.nextSeq) arrived")
            }
            let sealed = try store.seal(job: job, index: open.index, shardSize: open.shardSize)
            receiving.removeValue(forKey: job)
            let record = JobRecord(id: job, index: open.index, state: "running")
            jobs[job] = record
            scheduler.add(
                try store.openShards(job: job),
                model: open.index.model.name,
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
            return .sealed(.init(job: job, shards: sealed.shards, toEmbed: sealed.toEmbed, unchanged: sealed.unchanged))

        case .status(let job):
            let summaries = try store.summaries(job: job)
            if let job, summaries.isEmpty { return .failure(message: "unknown job \(job)") }
            return .status(statusReport(summaries))
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
                phase: job.state == "indexing" ? indexBuilds.progress(job: job.id) ?? "building the HNSW index" : nil
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
                lastSeenSecondsAgo: now - worker.lastSeen
            )
        }
        return StatusReport(coordinator: name, jobs: jobs, workers: workers)
    }
}
