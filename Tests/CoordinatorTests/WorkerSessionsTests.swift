import Coordinator
import Store
import Testing
import Wire

/// A coordinator's view of its workers, without the coordinator: sessions and the scheduler.
final class SessionHarness {
    var sessions = WorkerSessions()
    var scheduler = ShardScheduler()

    static func hello(_ worker: String, protocolVersion: Int = WireProtocol.version) -> WorkerMessage.Hello {
        WorkerMessage.Hello(
            protocolVersion: protocolVersion,
            worker: worker,
            host: "h",
            version: "0",
            threads: 1,
            models: [.init(name: "m", weightsHash: "h", dimension: 4)]
        )
    }

    func receive(_ message: WorkerMessage, from worker: String, now: Double = 0) -> WorkerSessions.Verdict {
        sessions.receive(message, from: worker, now: now, scheduler: &scheduler)
    }

    /// `worker` says hello, is admitted and joins with model "m".
    func welcome(_ worker: String, now: Double = 0) {
        let verdict = receive(.hello(Self.hello(worker)), from: worker, now: now)
        #expect(verdict == .admit(Self.hello(worker)))
        sessions.joined(
            worker,
            hello: Self.hello(worker),
            models: ["m"],
            key: "key-\(worker)",
            now: now,
            scheduler: &scheduler
        )
    }

    /// Shard 1 of model "m", dealt to `worker` under lease 100.
    func deal(to worker: String) {
        scheduler.add([ShardRecord(id: 1, job: 1, firstSeq: 0, lastSeq: 9, documentCount: 10, attempts: 0)], model: "m")
        #expect(receive(.ready(credit: 1), from: worker) == .credit)
        #expect(scheduler.nextDeal(now: 0) == .shard(worker: worker, shard: 1))
        scheduler.granted(token: 100, shard: 1, worker: worker, now: 0)
    }
}

@Suite("WorkerSessions")
struct WorkerSessionsTests {
    @Test("before its hello is admitted nothing a peer says counts: it is asked to say hello; a goodbye is ignored")
    func unknownPeer() {
        let h = SessionHarness()
        for message: WorkerMessage in [
            .ready(credit: 5), .heartbeat(leases: [1]), .shardFenced(shard: 1, lease: 1),
            .shardDone(.init(shard: 1, lease: 1, documents: 1, tokens: 1, embedSeconds: 0, commitSeconds: 0)),
        ] {
            guard case .askHello(.notWelcomed, _) = h.receive(message, from: "w") else {
                Issue.record("\(message.typeName) from an unknown peer must be refused")
                continue
            }
        }
        #expect(h.receive(.goodbye(returning: []), from: "w") == .ignore)
        #expect(h.scheduler.workers.isEmpty)
    }

    @Test("a hello is refused for another protocol, dropped for another id or when repeated within a second")
    func hellos() {
        let h = SessionHarness()
        guard case .refuse(let reason) = h.receive(.hello(SessionHarness.hello("w", protocolVersion: 1)), from: "w")
        else {
            Issue.record("an old protocol must be refused")
            return
        }
        #expect(reason.contains("protocol version 1"))
        guard case .drop(.invalid, _) = h.receive(.hello(SessionHarness.hello("other")), from: "x", now: 2) else {
            Issue.record("a hello naming another worker must be dropped")
            return
        }
        #expect(h.receive(.hello(SessionHarness.hello("w")), from: "w", now: 4) == .admit(SessionHarness.hello("w")))
        guard case .drop(.tooFrequent, _) = h.receive(.hello(SessionHarness.hello("w")), from: "w", now: 4.5) else {
            Issue.record("a second hello within a second must be dropped")
            return
        }
        #expect(h.receive(.hello(SessionHarness.hello("w")), from: "w", now: 5.1) == .admit(SessionHarness.hello("w")))
        #expect(h.scheduler.workers.isEmpty, "admitted is not joined: the registry checks the models first")
    }

    @Test("lease messages count only from the holder, for that shard; a closed lease's late report is a race")
    func leaseHolder() {
        let h = SessionHarness()
        h.welcome("a")
        h.welcome("b")
        h.deal(to: "a")
        let done = WorkerMessage.ShardDone(
            shard: 1,
            lease: 100,
            documents: 10,
            tokens: 5,
            embedSeconds: 1,
            commitSeconds: 0
        )
        guard case .drop(.notLeaseHolder, _) = h.receive(.shardDone(done), from: "b") else {
            Issue.record("another worker's shard_done must be dropped")
            return
        }
        var wrongShard = done
        wrongShard.shard = 2
        guard case .drop(.notLeaseHolder, _) = h.receive(.shardDone(wrongShard), from: "a") else {
            Issue.record("the right token for another shard must be dropped")
            return
        }
        guard case .drop(.notLeaseHolder, _) = h.receive(.shardFenced(shard: 1, lease: 100), from: "b") else {
            Issue.record("another worker's shard_fenced must be dropped")
            return
        }
        #expect(h.receive(.heartbeat(leases: [100, 7]), from: "b") == .heartbeat(forged: [100, 7]))
        #expect(h.receive(.heartbeat(leases: [100]), from: "a") == .heartbeat(forged: []))
        #expect(h.receive(.shardDone(done), from: "a") == .done(done))
        _ = h.scheduler.completed(shard: 1, token: 100, documents: 10, tokens: 5, embedSeconds: 1, now: 1)
        #expect(h.receive(.shardDone(done), from: "a") == .late(type: "shard_done", shard: 1, lease: 100))
        #expect(h.sessions.keyNames == ["a": "key-a", "b": "key-b"])
    }

    @Test("a worker fault disables the model on that worker only; a database fault pauses it; a document fault neither")
    func faults() {
        let h = SessionHarness()
        h.welcome("a")
        h.deal(to: "a")
        let failure = WorkerMessage.ShardFailed(
            shard: 1,
            lease: 100,
            error: "tokenizer.json unreadable",
            fault: .worker
        )
        #expect(h.receive(.shardFailed(failure), from: "a") == .failed(failure, disabled: "m", paused: false))
        #expect(h.scheduler.workers["a"]?.unhealthy["m"] == "tokenizer.json unreadable")
        _ = h.scheduler.failed(token: 100, fault: .worker)

        h.welcome("b", now: 0)
        h.scheduler.granted(token: 101, shard: 1, worker: "b", now: 0)
        let outage = WorkerMessage.ShardFailed(shard: 1, lease: 101, error: "connection lost", fault: .database)
        #expect(h.receive(.shardFailed(outage), from: "b", now: 3) == .failed(outage, disabled: nil, paused: true))
        #expect((h.scheduler.workers["b"]?.pausedUntil ?? 0) > 3)
        _ = h.scheduler.failed(token: 101, fault: .database)

        h.welcome("c", now: 0)
        h.scheduler.granted(token: 102, shard: 1, worker: "c", now: 0)
        let bad = WorkerMessage.ShardFailed(shard: 1, lease: 102, error: "bad text", fault: .document)
        #expect(h.receive(.shardFailed(bad), from: "c") == .failed(bad, disabled: nil, paused: false))
        #expect(h.scheduler.workers["c"]?.unhealthy.isEmpty == true)
    }

    @Test("a goodbye gives the worker's leases back and ends its session")
    func goodbye() {
        let h = SessionHarness()
        h.welcome("a")
        h.deal(to: "a")
        guard case .left(let leases) = h.receive(.goodbye(returning: [100]), from: "a") else {
            Issue.record("a goodbye must end the session")
            return
        }
        #expect(leases.map(\.token) == [100])
        guard case .askHello = h.receive(.heartbeat(leases: []), from: "a") else {
            Issue.record("after a goodbye the peer must say hello again")
            return
        }
    }
}
