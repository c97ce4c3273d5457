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
            "Ask again every SECONDS (at least 0.1) over one connection, each answer headed by its round trip, the time from asking to the answer (with --json: one object a line, with answerMilliseconds). A request that gets no answer is reported on stderr and the watch goes on over a new connection.",
            valueName: "seconds"
        )
    )
    var watch: Double?

    @Option(
        name: .long,
        help: "With --watch: stop after this many requests (default: until interrupted); exit 1 if any got no answer."
    )
    var times: Int?

    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let watch, !(watch >= 0.1 && watch <= 86_400) {
            throw ValidationError("--watch must be from 0.1 to 86400 seconds, not \(watch)")
        }
        if let times {
            guard watch != nil else { throw ValidationError("--times needs --watch") }
            guard times >= 1 else { throw ValidationError("--times must be at least 1, not \(times)") }
        }
    }

    func run() throws {
        guard let watch else {
            let report: StatusReport
            do { report = try ask(try client.client()).report } catch { throw fail(error) }
            try show(report, roundTrip: nil)
            return
        }
        // One process and, while it answers, one connection: what is timed is the request and
        // its answer, not the start of a `coord` process on a busy machine.
        var connection: CoordinatorClient?
        var (asked, unanswered) = (0, 0)
        while times.map({ asked < $0 }) ?? true {
            let started = ContinuousClock.now
            asked += 1
            do {
                if connection == nil { connection = try client.client() }
                let (report, roundTrip) = try ask(connection!)
                try show(report, roundTrip: roundTrip)
            } catch let refused as Refused {
                throw fail(refused)  // an answer, and no report will come: an unknown job
            } catch {
                // A reply that comes late would pass for the next request's: a new connection.
                connection = nil
                unanswered += 1
                FileHandle.standardError.write(Data("\(Self.clock()) UTC: \(error)\n".utf8))
            }
            fflush(nil)  // every open stream: each answer shows as it comes, into a pipe too
            let next = started + .seconds(watch)
            if times.map({ asked < $0 }) ?? true, next > .now { Thread.sleep(forTimeInterval: (next - .now).seconds) }
        }
        if unanswered > 0 { throw fail("\(unanswered) of \(asked) requests got no answer") }
    }

    /// The coordinator's status report and the round trip that brought it.
    private func ask(_ connection: CoordinatorClient) throws -> (report: StatusReport, roundTrip: Duration) {
        let started = ContinuousClock.now
        let reply = try connection.request(.status(job: job))
        guard case .status(let report) = reply else {
            if case .failure(let message) = reply { throw Refused(description: message) }
            throw Refused(description: "unexpected reply")
        }
        return (report, .now - started)
    }

    /// The coordinator answered with something other than a report.
    private struct Refused: Error, CustomStringConvertible { var description: String }

    private static func clock() -> String { Date().formatted(.iso8601.time(includingFractionalSeconds: false)) }

    /// A watched answer as one JSON object: the report's fields and `answerMilliseconds`.
    private struct WatchedAnswer: Encodable {
        enum Key: String, CodingKey { case answerMilliseconds }
        var report: StatusReport
        var answerMilliseconds: Int

        func encode(to encoder: any Encoder) throws {
            try report.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(answerMilliseconds, forKey: .answerMilliseconds)
        }
    }

    private func show(_ report: StatusReport, roundTrip: Duration?) throws {
        let milliseconds = roundTrip.map { Int(($0.seconds * 1000).rounded()) }
        if json {
            let encoder = JSONEncoder()
            guard let milliseconds else {
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
                return
            }
            encoder.outputFormatting = [.sortedKeys]
            let line = try encoder.encode(WatchedAnswer(report: report, answerMilliseconds: milliseconds))
            print(String(decoding: line, as: UTF8.self))
            return
        }
        if let milliseconds { print("-- \(Self.clock()) UTC, answered in \(milliseconds) ms") }
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
