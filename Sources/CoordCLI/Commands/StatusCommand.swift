import ArgumentParser
import Foundation
import JobStates
import Telemetry
import Wire

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show jobs (or one job), their shards, the workers and throughput."
    )

    @Argument(help: "A job id (default: the 20 most recent jobs).")
    var job: Int64?

    @Flag(name: .long, help: "Print one JSON object (jobs, workers, docsPerSecond, …) for scripts.")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Ask again every SECONDS over one connection, each answer headed by the time the coordinator took to give it (with --json: one object a line, that time as answerMilliseconds).",
            valueName: "seconds"
        )
    )
    var watch: Double?

    @Option(name: .long, help: "With --watch: stop after this many answers (default: until interrupted).")
    var times: Int?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let watch, !(watch > 0 && watch <= 86_400) {
            throw ValidationError("--watch must be more than 0 and at most 86400 seconds, not \(watch)")
        }
        if let times {
            guard watch != nil else { throw ValidationError("--times needs --watch") }
            guard times >= 1 else { throw ValidationError("--times must be at least 1, not \(times)") }
        }
    }

    func run() throws {
        let connection: CoordinatorClient
        do { connection = try client.client() } catch { throw fail(error) }
        guard let watch else {
            try show(try ask(connection).report, answered: nil)
            return
        }
        // One process and one connection for every answer: what is timed is the coordinator's
        // answer, not the start of a `coord` process on a busy machine.
        var answers = 0
        while times.map({ answers < $0 }) ?? true {
            let started = ContinuousClock.now
            let (report, took) = try ask(connection)
            try show(report, answered: took)
            answers += 1
            fflush(nil)  // every open stream: each answer shows as it comes, into a pipe too
            let next = started + .milliseconds(Int(watch * 1000))
            if times.map({ answers < $0 }) ?? true, next > .now { Thread.sleep(forTimeInterval: (next - .now).seconds) }
        }
    }

    /// The coordinator's status report and how long it took to come.
    private func ask(_ connection: CoordinatorClient) throws -> (report: StatusReport, took: Duration) {
        let started = ContinuousClock.now
        let reply: ClientReply
        do { reply = try connection.request(.status(job: job)) } catch { throw fail(error) }
        guard case .status(let report) = reply else {
            if case .failure(let message) = reply { throw fail(message) }
            throw fail("unexpected reply")
        }
        return (report, .now - started)
    }

    private func show(_ report: StatusReport, answered took: Duration?) throws {
        let milliseconds = took.map { Int(($0.seconds * 1000).rounded()) }
        if json {
            let encoder = JSONEncoder()
            guard let milliseconds else {
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
                return
            }
            // One line an answer, the time it took beside the report.
            encoder.outputFormatting = [.sortedKeys]
            var object = try JSONSerialization.jsonObject(with: encoder.encode(report)) as? [String: Any] ?? [:]
            object["answerMilliseconds"] = milliseconds
            let line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: line, as: UTF8.self))
            return
        }
        if let milliseconds {
            let clock = Date().formatted(.iso8601.time(includingFractionalSeconds: false))
            print("-- \(clock) UTC, answered in \(milliseconds) ms")
        }
        print("coordinator \(report.coordinator)")
        print("jobs:")
        if report.jobs.isEmpty { print("  none") }
        for job in report.jobs {
            let shards = job.shards.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            var line =
                "  \(job.id)  \(job.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(job.index) (\(job.model))  "
                + "\(job.doneDocs)/\(job.totalDocs) docs  \(String(format: "%.1f", job.docsPerSecond)) docs/s  "
                + "\(ProgressBar.format(seconds: job.elapsedSeconds))"
            if let eta = job.etaSeconds { line += "  ETA \(ProgressBar.format(seconds: eta))" }
            if job.unchangedDocs > 0 { line += "  unchanged \(job.unchangedDocs)" }
            if job.rejectedDocs > 0 { line += "  rejected \(job.rejectedDocs)" }
            if let deleted = job.deletedDocs, deleted > 0 { line += "  deleted \(deleted) (mirror)" }
            print(line)
            print("      shards: \(shards.isEmpty ? "none" : shards)")
            if let phase = job.phase { print("      \(phase)") }
            if let error = job.error { print("      error: \(error)") }
        }
        if let indexes = report.indexes {
            print("indexes:")
            if indexes.isEmpty { print("  none") }
            for index in indexes {
                print(
                    "  \(index.name)  serving \(index.mode) with \(index.queryModel)"
                        + "  documents embedded by \(index.documentModel) into \(index.generations.joined(separator: ", then "))"
                )
            }
        }
        print("workers:")
        if report.workers.isEmpty { print("  none") }
        for worker in report.workers {
            print(
                "  \(worker.id)\(worker.peer.map { " (key \($0))" } ?? "")  \(worker.threads) threads  \(worker.shardsInHand) shards in hand  "
                    + "\(worker.documentsEmbedded) docs  \(String(format: "%.1f", worker.docsPerSecond)) docs/s  "
                    + "seen \(String(format: "%.1f", worker.lastSeenSecondsAgo)) s ago"
                    + (worker.healthy ? "" : "  UNHEALTHY")
            )
            for problem in worker.problems { print("      \(problem)") }
        }
    }
}
