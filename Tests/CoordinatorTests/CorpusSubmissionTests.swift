import Coordinator
import Foundation
import Testing
import Wire
import ZeroMQ

/// `coord submit` against a stand-in coordinator on a real ROUTER socket, which holds its
/// acknowledgements back while more chunks keep coming, so it sees how many were in flight.
@Suite("CorpusSubmission")
struct CorpusSubmissionTests {
    /// What the stand-in saw.
    struct Seen: Sendable {
        var mostUnacknowledged = 0
        var documents = 0
        var sealedWith: Int?
        var abandoned = false
    }

    /// Answers one client until it seals or abandons its upload (or goes quiet for 5 s).
    /// `miscount` adds that many to each acknowledged count (a reply that does not match what the
    /// client sent).
    static func standIn(_ router: ZeroMQSocket, miscount: Int = 0) throws -> Seen {
        var seen = Seen()
        var waiting: [(peer: Data, count: Int)] = []
        func reply(_ peer: Data, _ message: ClientReply) throws {
            try router.send([peer, WireProtocol.encode(message)])
        }
        while seen.sealedWith == nil && !seen.abandoned, let frames = try router.receive(timeout: .seconds(5)),
            frames.count == 2
        {
            switch try WireProtocol.decode(ClientRequest.self, from: frames[1]) {
            case .submit: try reply(frames[0], .accepted(job: 7, upload: "u"))
            case .documents(_, _, let documents):
                waiting.append((frames[0], documents.count))
                seen.mostUnacknowledged = max(seen.mostUnacknowledged, waiting.count)
                // Another chunk on its way is taken before any is acknowledged.
                if try router.poll(timeout: .milliseconds(300)) { continue }
                for (peer, count) in waiting {
                    seen.documents += count
                    try reply(peer, .ack(job: 7, received: seen.documents + miscount))
                }
                waiting.removeAll()
            case .seal(_, _, let count):
                seen.sealedWith = count
                try reply(frames[0], .sealed(.init(job: 7, shards: 1, toEmbed: count, unchanged: 0)))
            case .abandon:
                seen.abandoned = true
                try reply(frames[0], .ack(job: 7, received: 0))
            default: try reply(frames[0], .failure(message: "not expected here"))
            }
        }
        return seen
    }

    /// Runs a submission of `documents` documents in chunks of 2 against the stand-in.
    static func submit(
        documents: Int,
        chunksInFlight: Int,
        miscount: Int = 0
    ) throws -> (Result<CorpusSubmission.Outcome, any Error>, Seen) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("submission-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lines = (0..<documents).map { #"{"_id": "d\#($0)", "title": "T", "text": "text \#($0)"}"# }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)

        let context = try ZeroMQContext()
        let router = try context.socket(.router)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = router.lastEndpoint
        let standIn = StandIn(router)
        Thread {
            standIn.seen = Result { try Self.standIn(standIn.socket, miscount: miscount) }
            standIn.done.signal()
        }.start()

        var submission = CorpusSubmission(path: path, index: "i", model: "m")
        submission.chunkSize = 2
        submission.chunksInFlight = chunksInFlight
        let client = try CoordinatorClient(endpoint: endpoint, timeout: .seconds(10))
        let outcome = Result { try submission.run(client: client) }
        standIn.done.wait()
        return (outcome, try standIn.seen!.get())
    }

    @Test("the next chunk is sent while the last is staged, two at most; every document acknowledged in order")
    func chunksInFlight() throws {
        let (outcome, seen) = try Self.submit(documents: 9, chunksInFlight: 2)
        #expect(try outcome.get().submitted == 9)
        #expect(seen.mostUnacknowledged == 2)
        #expect(seen.documents == 9 && seen.sealedWith == 9 && !seen.abandoned)

        let (serial, one) = try Self.submit(documents: 5, chunksInFlight: 1)
        #expect(try serial.get().submitted == 5)
        #expect(one.mostUnacknowledged == 1 && one.sealedWith == 5)
    }

    @Test("an acknowledgement that does not count what was sent fails the submission, which abandons its upload")
    func miscountedAcknowledgement() throws {
        let (outcome, seen) = try Self.submit(documents: 9, chunksInFlight: 2, miscount: 1)
        guard case .failure(let error) = outcome else {
            Issue.record("expected the submission to fail")
            return
        }
        #expect("\(error)".contains("expected 2 documents acknowledged"))
        #expect(seen.abandoned && seen.sealedWith == nil)
    }
}

/// The stand-in's socket, handed to its thread once and used only there, and what it saw,
/// read after `done` is signalled.
private final class StandIn: @unchecked Sendable {
    let socket: ZeroMQSocket
    var seen: Result<CorpusSubmissionTests.Seen, any Error>?
    let done = DispatchSemaphore(value: 0)
    init(_ socket: ZeroMQSocket) { self.socket = socket }
}
