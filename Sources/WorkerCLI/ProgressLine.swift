import Foundation
import Telemetry
import Worker

/// Progress on standard error: a line rewritten in place on a terminal, a log
/// line every few seconds otherwise.
final class ProgressLine {
    private let label: String
    private let start = ContinuousClock.now
    private var lastPrint = ContinuousClock.now
    private let interactive = isatty(FileHandle.standardError.fileDescriptor) != 0

    init(_ label: String) { self.label = label }

    func update(_ done: Int, of total: Int) {
        let now = ContinuousClock.now
        guard interactive || now - lastPrint >= .seconds(5) || done == 0 || done == total else { return }
        lastPrint = now
        let elapsed = (now - start).seconds
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let text = String(
            format: "%@ %@ %d/%d  %.1f docs/s  ETA %@",
            label,
            bar,
            done,
            total,
            rate,
            rate > 0 ? Self.format(seconds: Double(total - done) / rate) : "?"
        )
        FileHandle.standardError.write(
            Data(((interactive ? "\r" : "") + text + (interactive && done < total ? "" : "\n")).utf8)
        )
    }

    static func format(seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
