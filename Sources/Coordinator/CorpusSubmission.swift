import Corpus
import Foundation
import JobStates
import Wire

/// `coord submit`: checks a JSONL corpus, streams it to the coordinator in
/// chunks, and seals the job. Progress then comes from ``JobWatcher``.
public struct CorpusSubmission {
    public var path: String
    public var index: String
    public var model: String
    public var shardSize = 64
    /// Record invalid lines as rejected and index the rest (otherwise any invalid line stops the submission).
    public var skipInvalid = false
    /// Documents per message.
    public var chunkSize = 500
    /// Chunks sent and not yet acknowledged, at most: with 2, the next chunk is read, encoded and
    /// on its way while the coordinator stages the last (with 1, each waits for the last's reply).
    public var chunksInFlight = 2
    /// A query waits for these documents: dealt before other jobs' shards, no HNSW build after.
    public var urgent = false
    /// The file is the whole index: what the index holds and the file lacks is deleted at the seal.
    public var mirror = false
    /// How a new index stores its vectors (`vector`, `halfvec`); nil: the index's own, or `vector`.
    public var storage: String?
    /// The task of a new index's queries (`--instruction`).
    public var instruction: String?
    /// Asked between chunks: when true (Ctrl-C), the upload is abandoned (the coordinator fails
    /// the job and deletes what was staged) and ``SubmissionError/cancelled(job:)`` is thrown.
    public var isCancelled: @Sendable () -> Bool = { false }
    /// Told how the check of the file goes (every ``CorpusReader/progressLines`` lines, and once
    /// when it is over): what was read of `fileBytes`. A cancellation stops the check there.
    public var checking: (_ report: CorpusReader.Report, _ fileBytes: Int, _ finished: Bool) -> Void = { _, _, _ in }

    public init(path: String, index: String, model: String) {
        self.path = path
        self.index = index
        self.model = model
    }

    public struct Outcome: Sendable {
        public var job: Int64
        public var submitted: Int
        public var invalid: Int
        public var sealed: ClientReply.Sealed
    }

    /// Validates the whole file first (Ctrl-C stops the check too); nothing reaches the coordinator when a line is invalid and `skipInvalid` is off.
    /// Any failure after the job is opened abandons the upload, so nothing half-sent is left behind.
    public func run(client: CoordinatorClient, progress: (Int, Int) -> Void = { _, _ in }) throws -> Outcome {
        // A line re-encoded for the wire at most doubles (its metadata is sent as a JSON string).
        let reader = try CorpusReader(path: path, maxLineBytes: WireLimits.chunkBytes / 2)
        // Duplicate ids are the coordinator's to find (with the job's id index, as chunks are
        // staged): a map of every id here would grow with the corpus.
        let fileBytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        let report = try reader.validate(maxErrors: skipInvalid ? Int.max : 20) { report in
            checking(report, fileBytes, false)
            return !isCancelled()
        }
        if report.stopped { throw SubmissionError.cancelled(job: nil) }
        checking(report, fileBytes, true)
        if report.errorCount > 0 && !skipInvalid {
            throw SubmissionError.invalidLines(
                path: path,
                errors: report.errors.map(\.description),
                count: report.errorCount
            )
        }
        guard report.records > 0 else { throw SubmissionError.empty(path: path) }

        if isCancelled() { throw SubmissionError.cancelled(job: nil) }
        let source = URL(fileURLWithPath: path).standardizedFileURL.path
        guard
            case .accepted(let job, let upload) = try expect(
                client.request(
                    .submit(
                        .init(
                            index: index,
                            model: model,
                            shardSize: shardSize,
                            source: source,
                            urgent: urgent,
                            mirror: mirror,
                            skipInvalid: skipInvalid,
                            storage: storage,
                            instruction: instruction
                        )
                    )
                )
            )
        else { throw SubmissionError.protocolError("expected the job to be accepted") }
        do {
            return try send(reader, report, job: job, upload: upload, client: client, progress: progress)
        } catch {
            // Best effort: the coordinator also expires an upload that goes quiet.
            client.discardPending()
            _ = try? client.request(.abandon(job: job, upload: upload))
            if isCancelled() { throw SubmissionError.cancelled(job: job) }
            throw error
        }
    }

    private func send(
        _ reader: CorpusReader,
        _ report: CorpusReader.Report,
        job: Int64,
        upload: String,
        client: CoordinatorClient,
        progress: (Int, Int) -> Void
    ) throws -> Outcome {
        if report.errorCount > 0 {
            let lines = report.errors.map {
                ClientRequest.RejectedLine(line: $0.line ?? 0, id: $0.documentId, error: $0.description)
            }
            for chunk in stride(from: 0, to: lines.count, by: chunkSize) {
                _ = try expect(
                    client.request(
                        .rejected(
                            job: job,
                            upload: upload,
                            lines: Array(lines[chunk..<min(chunk + chunkSize, lines.count)])
                        )
                    )
                )
            }
        }
        var acknowledged = 0  // documents the coordinator counted as staged
        var inFlight: [Int] = []  // each unacknowledged chunk's document count, oldest first
        var chunk: [Document] = []
        var chunkBytes = 0
        func acknowledge() throws {
            let count = inFlight.removeFirst()
            let reply = try client.receive()
            if case .failure(let message) = reply, message.contains(": duplicate id ") {
                // Found by the coordinator while staging: the job failed, nothing of it kept.
                throw SubmissionError.invalidLines(path: path, errors: [message], count: 1)
            }
            // The coordinator counts what it staged: a reply out of order or a lost chunk shows here.
            guard case .ack(_, let received) = try expect(reply), received == acknowledged + count else {
                throw SubmissionError.protocolError(
                    "expected \(acknowledged + count) documents acknowledged, got \(reply)"
                )
            }
            acknowledged = received
            progress(acknowledged, report.records)
        }
        func flush() throws {
            guard !chunk.isEmpty else { return }
            if isCancelled() { throw SubmissionError.cancelled(job: job) }
            while inFlight.count >= max(1, chunksInFlight) { try acknowledge() }
            try client.send(.documents(job: job, upload: upload, documents: chunk))
            inFlight.append(chunk.count)
            chunk.removeAll(keepingCapacity: true)
            chunkBytes = 0
        }
        try reader.forEachBatch(of: chunkSize, skipping: report.invalidLines) { records in
            for document in records {
                let bytes =
                    2
                    * (document.id.utf8.count + document.title.utf8.count + document.text.utf8.count
                        + document.metadata.utf8.count) + 64
                // Chunks stay below the coordinator's frame limit (WireLimits.clientFrameBytes).
                if chunkBytes + bytes > WireLimits.chunkBytes || chunk.count == chunkSize { try flush() }
                chunk.append(document)
                chunkBytes += bytes
            }
        }
        try flush()
        while !inFlight.isEmpty { try acknowledge() }
        if isCancelled() { throw SubmissionError.cancelled(job: job) }
        switch try expect(client.request(.seal(job: job, upload: upload, documents: acknowledged))) {
        case .sealed(let sealed):
            return Outcome(
                job: job,
                submitted: acknowledged,
                invalid: try rejected(job, client, report),
                sealed: sealed
            )
        case .sealing:
            // A big job: the coordinator seals it in steps; its status says when it is done.
            while true {
                guard case .status(let statusReport) = try expect(client.request(.status(job: job))),
                    let status = statusReport.jobs.first
                else { throw SubmissionError.protocolError("expected the job's status") }
                if status.state == .failed || status.state == .cancelled {
                    throw SubmissionError.refused(status.error ?? "job \(job) \(status.state)")
                }
                if status.state != .receiving {
                    let sealed = ClientReply.Sealed(
                        job: job,
                        shards: status.shards.values.reduce(0, +),
                        toEmbed: status.totalDocs,
                        unchanged: status.unchangedDocs,
                        deleted: status.deletedDocs
                    )
                    return Outcome(
                        job: job,
                        submitted: acknowledged,
                        invalid: max(report.errorCount, status.rejectedDocs),
                        sealed: sealed
                    )
                }
                Thread.sleep(forTimeInterval: 0.25)
            }
        default:
            throw SubmissionError.protocolError("expected the job to be sealed")
        }
    }

    /// Lines recorded as rejected: those found invalid here, and the duplicates the coordinator found.
    private func rejected(_ job: Int64, _ client: CoordinatorClient, _ report: CorpusReader.Report) throws -> Int {
        guard skipInvalid,
            case .status(let statusReport) = try client.request(.status(job: job)),
            let status = statusReport.jobs.first
        else { return report.errorCount }
        return max(report.errorCount, status.rejectedDocs)
    }

    private func expect(_ reply: ClientReply) throws -> ClientReply {
        if case .failure(let message) = reply { throw SubmissionError.refused(message) }
        return reply
    }
}

public enum SubmissionError: Error, CustomStringConvertible {
    case invalidLines(path: String, errors: [String], count: Int)
    case empty(path: String)
    case refused(String)
    case protocolError(String)
    /// Interrupted (SIGINT or SIGTERM) while uploading: the job was abandoned.
    case cancelled(job: Int64?)

    public var description: String {
        switch self {
        case .invalidLines(let path, let errors, let count):
            "\(path): \(count) invalid line\(count == 1 ? "" : "s"); nothing was submitted (--skip-invalid indexes the valid lines and records these):\n"
                + errors.map { "  \($0)" }.joined(separator: "\n")
                + (count > errors.count ? "\n  … and \(count - errors.count) more" : "")
        case .empty(let path): "\(path) holds no documents"
        case .refused(let message): "the coordinator refused: \(message)"
        case .protocolError(let message): "unexpected reply from the coordinator: \(message)"
        case .cancelled(let job):
            job.map { "interrupted: job \($0) abandoned, nothing of it is kept" }
                ?? "interrupted before anything was sent"
        }
    }
}
