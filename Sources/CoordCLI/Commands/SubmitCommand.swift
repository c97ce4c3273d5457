import ArgumentParser
import Coordinator
import Corpus
import Foundation
import JobStates
import Store
import Synchronization
import Telemetry
import Wire

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Index a JSONL corpus: validate it, stream it to the coordinator, show progress until done.",
        discussion: """
            Each line: {"_id" or "id", "text", optional "title", any other fields kept as metadata}. The whole \
            file is checked first: invalid JSON or UTF-8, a missing id or text, or a duplicate id stops the \
            submission with the lines named (exit 65), unless --skip-invalid, which records them as rejected \
            and indexes the rest. Re-submitting embeds only new or changed documents. With --mirror the file \
            is the whole index: documents the index holds and the file lacks are deleted (from every \
            generation, as `coord delete` does) when the upload is sealed; ids of rejected lines are kept, \
            and a rejected line without an id makes the mirror delete nothing.
            """
    )

    @Argument(help: "The corpus, one JSON document per line.")
    var corpus: String

    @Option(name: .long, help: "The index to build or update.")
    var index: String

    @Option(
        name: .long,
        help:
            "A registered model (a folder name under `coord serve --models`): needed to create an index; an existing one takes its serving generation's."
    )
    var model: String?

    @Option(
        name: .long,
        help:
            "Keep the first D dimensions of the model's vectors, re-normalised (Matryoshka models): the index's model is registered as MODEL@D. Fixed when the index is made."
    )
    var dimension: Int?

    @Option(
        name: .long,
        help:
            "Run the model in this precision (fp32, bf16, int8): the index's model is registered as MODEL:PRECISION, and only workers that run it get its shards. Fixed when the index is made."
    )
    var precision: String?

    @Option(
        name: .long,
        help:
            "The task of the new index's queries, filled into the query prompt of models that take one (LLM embedders: \"Instruct: {task}\\nQuery:\"). Documents get none. Fixed when the index is made."
    )
    var instruction: String?

    @Option(name: .long, help: "Documents per shard.")
    var shardSize = 64

    @Flag(name: .long, help: "Record invalid lines as rejected and index the valid ones.")
    var skipInvalid = false

    @Flag(name: .long, help: "The file is the whole index: delete the documents it lacks.")
    var mirror = false

    @Flag(name: .long, help: "Return once the job is accepted, without waiting for it.")
    var detach = false

    @Option(
        name: .long,
        help:
            "How a new index stores its vectors: vector (float32) or halfvec (float16, half the bytes). Fixed when the index is made."
    )
    var storage: String?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let storage, VectorStorage(rawValue: storage) == nil {
            throw ValidationError(
                "--storage must be \(VectorStorage.allCases.map(\.rawValue).joined(separator: " or ")), not \(storage)"
            )
        }
        guard (1...100_000).contains(shardSize) else {
            throw ValidationError("--shard-size must be between 1 and 100000")
        }
        guard !index.isEmpty else { throw ValidationError("--index must not be empty") }
        if let precision {
            try validatePrecision(precision)
            guard let model, !model.isEmpty else {
                throw ValidationError("--precision needs --model: it names the model run in that precision")
            }
        }
        if let dimension {
            guard dimension > 0 else { throw ValidationError("--dimension must be positive, not \(dimension)") }
            guard let model, !model.isEmpty else {
                throw ValidationError("--dimension needs --model: it names the model whose vectors are cut")
            }
        }
    }

    func run() throws {
        let connection = try client.client()
        // MODEL@D, MODEL:int8: the registry records each as a model of its own (Store's ModelName).
        let cut = dimension.map { "\(model ?? "")@\($0)" } ?? model ?? ""
        let modelName = ModelName.variant(cut, precision: precision ?? "fp32")
        var submission = CorpusSubmission(path: corpus, index: index, model: modelName)
        submission.shardSize = shardSize
        submission.skipInvalid = skipInvalid
        submission.mirror = mirror
        submission.storage = storage
        submission.instruction = instruction
        // Ctrl-C or SIGTERM: the upload is abandoned (the coordinator deletes what was staged).
        let interrupted = Atomic<Bool>(false)
        let signals = SignalTrap { interrupted.store(true, ordering: .relaxed) }
        defer { withExtendedLifetime(signals) {} }
        submission.isCancelled = { interrupted.load(ordering: .relaxed) }
        let check = ProgressBar(label: "checking")
        let checkStarted = ContinuousClock.now
        submission.checking = { report, fileBytes, finished in
            let megabytes = { (bytes: Int) in (bytes + (1 << 19)) >> 20 }
            guard finished else {
                check.show(
                    done: megabytes(report.bytes),
                    total: megabytes(max(fileBytes, report.bytes)),
                    detail: "MB, \(report.lines) lines"
                )
                return
            }
            check.finish()
            let seconds = (ContinuousClock.now - checkStarted).seconds
            let invalid = report.errorCount == 0 ? "all valid" : "\(report.errorCount) invalid"
            FileHandle.standardError.write(
                Data(
                    "checked \(report.lines) lines (\(megabytes(report.bytes)) MB) in \(ProgressBar.format(seconds: seconds)): \(invalid)\n"
                        .utf8
                )
            )
        }
        let upload = ProgressBar(label: "sending ")
        let outcome: CorpusSubmission.Outcome
        do {
            outcome = try submission.run(client: connection) { sent, total in
                upload.show(done: sent, total: total, detail: "")
            }
        } catch let error as SubmissionError {
            if case .invalidLines = error { throw fail(error, code: 65) }
            if case .cancelled = error { throw fail(error, code: 130) }
            throw fail(error)
        } catch let error as CorpusError {
            throw fail(error, code: error.line == nil ? 1 : 65)
        } catch {
            throw fail(error)
        }
        let sealed = outcome.sealed
        var summary =
            "job \(outcome.job): \(outcome.submitted) documents sent, \(sealed.toEmbed) to embed in \(sealed.shards) shards"
        if sealed.unchanged > 0 {
            summary += ", \(sealed.unchanged) unchanged (already indexed, or being indexed by a running job)"
        }
        if outcome.invalid > 0 { summary += ", \(outcome.invalid) invalid lines recorded as rejected" }
        if let deleted = sealed.deleted {
            summary +=
                deleted < 0
                ? "; --mirror deleted nothing: a rejected line has no id, so what the file lacks is unknown"
                : "; \(deleted) documents the file lacks deleted (--mirror)"
        }
        FileHandle.standardError.write(Data((summary + "\n").utf8))
        if detach {
            print(outcome.job)
            return
        }
        var watcher = JobWatcher(client: connection)
        watcher.isCancelled = submission.isCancelled
        let final = try watcher.wait(job: outcome.job)
        printOutcome(final)
        if final.state != .done { throw ExitCode(1) }
    }

    private func printOutcome(_ job: StatusReport.JobStatus) {
        var line =
            "job \(job.id) \(job.state): \(job.doneDocs) documents indexed into \(job.index) in "
            + "\(ProgressBar.format(seconds: job.elapsedSeconds)) (\(String(format: "%.1f", job.docsPerSecond)) docs/s)"
        if job.rejectedDocs > 0 { line += "; \(job.rejectedDocs) rejected (see rejected_documents)" }
        if let error = job.error { line += "; \(error)" }
        print(line)
    }
}

/// Polls a job's status until it finishes, drawing a progress bar.
struct JobWatcher {
    let client: CoordinatorClient
    /// Seconds between status requests.
    var pollSeconds = 0.5
    /// Shows a progress bar on standard error.
    var showsProgress = true
    /// Asked each poll: when true (Ctrl-C), stop watching; the job keeps running.
    var isCancelled: @Sendable () -> Bool = { false }

    /// "waiting: no connected worker can run MODEL …" while documents remain and no worker
    /// the coordinator knows runs the job's model (nil otherwise, or from an older coordinator).
    static func nobodyCanRun(_ job: StatusReport.JobStatus, _ report: StatusReport, remaining: Int) -> String? {
        guard remaining > 0, job.state == .running else { return nil }
        let key = ModelName(job.model).workerKey
        var refusals: [String] = []
        for worker in report.workers {
            guard let models = worker.models else { return nil }
            if models.contains(key) { return nil }
            refusals += worker.problems.filter { $0.hasPrefix("cannot run \(key):") }.map { "\(worker.id): \($0)" }
        }
        let connected =
            report.workers.isEmpty
            ? "no worker is connected" : "\(report.workers.count) connected worker(s) do not have it"
        return "waiting: no connected worker can run \(job.model) (\(connected))"
            + (refusals.isEmpty ? "" : "; " + refusals.joined(separator: "; "))
    }

    func wait(job: Int64) throws -> StatusReport.JobStatus {
        let bar = showsProgress ? ProgressBar(label: "indexing") : nil
        var failures = 0
        while true {
            if isCancelled() {
                bar?.finish()
                FileHandle.standardError.write(
                    Data("interrupted: job \(job) keeps running (`coord status \(job)` follows it)\n".utf8)
                )
                throw ExitCode(130)
            }
            do {
                let reply = try client.request(.status(job: job))
                guard case .status(let report) = reply, let status = report.jobs.first else {
                    // The coordinator answers but cannot read the job (its database restarting?): ask again for a while.
                    failures += 1
                    let message =
                        if case .failure(let message) = reply { message } else {
                            "unexpected reply to a status request"
                        }
                    if Double(failures) * pollSeconds > 30 { throw fail(message) }
                    if failures == 1 {
                        FileHandle.standardError.write(Data("\nwaiting for the job's status: \(message)\n".utf8))
                    }
                    Thread.sleep(forTimeInterval: pollSeconds)
                    continue
                }
                failures = 0
                let remaining = status.totalDocs - status.doneDocs - status.rejectedDocs
                let eta =
                    status.etaSeconds.map { "ETA \(ProgressBar.format(seconds: $0))" } ?? (remaining > 0 ? "ETA ?" : "")
                bar?.show(
                    done: status.doneDocs + status.rejectedDocs,
                    total: status.totalDocs,
                    detail: status.phase ?? JobWatcher.nobodyCanRun(status, report, remaining: remaining)
                        ?? "\(String(format: "%.1f", status.docsPerSecond)) docs/s  \(eta)  workers \(report.workers.count)"
                )
                if status.isFinished {
                    bar?.finish()
                    return status
                }
            } catch let error as CoordinatorClient.Failure {
                failures += 1
                // The coordinator may be restarting: keep asking for a while.
                if failures > 10 { throw fail(error) }
                FileHandle.standardError.write(Data("\nwaiting for the coordinator: \(error)\n".utf8))
            }
            Thread.sleep(forTimeInterval: pollSeconds)
        }
    }
}
