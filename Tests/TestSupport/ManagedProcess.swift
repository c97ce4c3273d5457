import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A child process for an integration test: output captured in a file (read
/// at any time), signals, waiting with a deadline. Killed when released.
public final class ManagedProcess: @unchecked Sendable {
    public let name: String
    public let process = Process()
    public let logFile: URL

    public init(name: String, executable: URL, arguments: [String], environment: [String: String] = [:]) throws {
        self.name = name
        logFile = try TestResources.temporaryDirectory().appendingPathComponent("\(name).log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logFile)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        ChildProcesses.shared.add(process.processIdentifier)
    }

    deinit {
        ChildProcesses.shared.remove(process.processIdentifier)
        if process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }
    public var isRunning: Bool { process.isRunning }

    /// A worker's id, as its log names it (`worker=ID`).
    public var workerId: String? {
        log.components(separatedBy: "worker=").dropFirst().first?.split(separator: " ").first.map(String.init)
    }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit; returns its status, or nil at the deadline.
    @discardableResult
    public func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Waits until the log holds `text`; false at the deadline.
    public func waitForLog(_ text: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if log.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// Kills the process (SIGKILL) and waits for it.
    public func kill9() {
        signal(SIGCONT)
        signal(SIGKILL)
        process.waitUntilExit()
    }
}

/// Every child still running when the test process exits is killed, so that a
/// failed test never leaves a coordinator or worker behind.
final class ChildProcesses: @unchecked Sendable {
    static let shared: ChildProcesses = {
        atexit { ChildProcesses.shared.killAll() }
        return ChildProcesses()
    }()

    private let lock = NSLock()
    private var pids = Set<Int32>()

    func add(_ pid: Int32) { lock.withLock { _ = pids.insert(pid) } }
    func remove(_ pid: Int32) { lock.withLock { _ = pids.remove(pid) } }

    func killAll() {
        for pid in lock.withLock({ pids }) {
            kill(pid, SIGCONT)
            kill(pid, SIGKILL)
        }
    }
}

/// Polls `condition` until it holds or `seconds` pass.
public func eventually(_ seconds: Double, poll: Double = 0.2, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: poll)
    }
    return try condition()
}

extension ManagedProcess {
    /// Fetches the `/metrics` page whose address the process logged ("metrics served … endpoint=http://…").
    public func metricsPage() throws -> String {
        let log = self.log
        guard let start = log.range(of: "endpoint=http://")?.lowerBound else {
            Issue.record("no metrics endpoint logged:\n\(log)")
            return ""
        }
        let address = log[log.index(start, offsetBy: "endpoint=".count)...].prefix { !$0.isWhitespace }
        return String(decoding: try Data(contentsOf: URL(string: String(address))!), as: UTF8.self)
    }

    /// The value of one Prometheus sample line (`name{labels} value`), 0 when absent.
    public func metric(_ sample: String) throws -> Double {
        let page = try metricsPage()
        for line in page.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1)) ?? 0
        }
        return 0
    }
}
