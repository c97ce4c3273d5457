import ArgumentParser
import Foundation
import JobStates
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

    @OptionGroup var client: ClientOptions

    func run() throws {
        let reply: ClientReply
        do { reply = try client.client().request(.status(job: job)) } catch { throw fail(error) }
        guard case .status(let report) = reply else {
            if case .failure(let message) = reply { throw fail(message) }
            throw fail("unexpected reply")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
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
