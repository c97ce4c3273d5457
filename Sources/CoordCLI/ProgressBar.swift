import Foundation

/// A progress line on standard error: redrawn in place on a terminal, a plain line every 5 s otherwise.
final class ProgressBar {
    private let label: String
    private let interactive = isatty(FileHandle.standardError.fileDescriptor) != 0
    private var lastPrint = ContinuousClock.now - .seconds(60)
    private var drawn = false

    init(label: String) { self.label = label }

    func show(done: Int, total: Int, detail: String) {
        let now = ContinuousClock.now
        guard interactive || now - lastPrint >= .seconds(5) else { return }
        lastPrint = now
        let width = 30
        let filled = total > 0 ? min(width, width * done / total) : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let text = "\(label) \(bar) \(done)/\(total)  \(detail)"
        FileHandle.standardError.write(
            Data(((interactive ? "\r\u{1B}[K" : "") + text + (interactive ? "" : "\n")).utf8)
        )
        drawn = true
    }

    func finish() {
        if interactive && drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func format(seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
