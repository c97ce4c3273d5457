import Coordinator
import Store
import Testing
import Wire

@Suite("ShardScheduler")
struct ShardSchedulerTests {
    func shards(_ count: Int, job: Int64 = 1) -> [ShardRecord] {
        (0..<count).map {
            ShardRecord(
                id: Int64($0 + 1),
                job: job,
                firstSeq: $0 * 10,
                lastSeq: $0 * 10 + 9,
                documentCount: 10,
                attempts: 0
            )
        }
    }

    func scheduler(leaseSeconds: Double = 10, maxAttempts: Int = 2) -> ShardScheduler {
        var configuration = ShardScheduler.Configuration()
        configuration.leaseSeconds = leaseSeconds
        configuration.maxAttempts = maxAttempts
        return ShardScheduler(configuration: configuration)
    }

    @Test("deals only as much as credit allows, in order, to workers with the model")
    func creditAndModels() {
        var s = scheduler()
        s.add(shards(3), model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.join(id: "b", host: "h", threads: 1, models: ["other"], now: 0)
        s.addCredit("b", 5)
        #expect(s.nextDeal(now: 0) == nil)
        s.addCredit("a", 2)
        #expect(s.nextDeal(now: 0) == .shard(worker: "a", shard: 1))
        #expect(s.nextDeal(now: 0) == .shard(worker: "a", shard: 2))
        #expect(s.nextDeal(now: 0) == nil)
        #expect(s.queue == [3])
    }

    @Test("a model's precision and cut: X:int8 goes only to a worker that runs X in int8; X@16 to any that has X")
    func precisionAndCut() {
        var s = scheduler()
        s.add(shards(1), model: "m:int8")
        s.add(
            shards(1, job: 2).map {
                var r = $0
                r.id = 2
                return r
            },
            model: "m@16"
        )
        // What a hello with precisions ["fp32"] and ["fp32", "int8"] lets a worker be dealt.
        let fp32 = WorkerMessage.ModelAnnouncement(name: "m", weightsHash: "h", dimension: 8, precisions: ["fp32"])
        let both = WorkerMessage.ModelAnnouncement(
            name: "m",
            weightsHash: "h",
            dimension: 8,
            precisions: ["fp32", "int8"]
        )
        #expect(both.runnableNames == ["m", "m:int8"])
        #expect(WorkerMessage.ModelAnnouncement(name: "m", weightsHash: "h", dimension: 8).runnableNames == ["m"])
        s.join(id: "a", host: "h", threads: 1, models: Set(fp32.runnableNames), now: 0)
        s.addCredit("a", 5)
        #expect(s.nextDeal(now: 0) == .shard(worker: "a", shard: 2))
        #expect(s.nextDeal(now: 0) == nil, "an fp32-only worker was dealt an int8 shard")
        s.join(id: "b", host: "h", threads: 1, models: Set(both.runnableNames), now: 0)
        s.addCredit("b", 1)
        #expect(s.nextDeal(now: 0) == .shard(worker: "b", shard: 1))
    }

    @Test("model names: FOLDER, FOLDER@D, FOLDER:PRECISION and both; other suffixes are part of the folder's name")
    func modelNames() {
        let both = ModelName("all-MiniLM-L6-v2@128:int8")
        #expect(both.folder == "all-MiniLM-L6-v2" && both.dimension == 128 && both.precision == "int8")
        #expect(both.workerKey == "all-MiniLM-L6-v2:int8")
        #expect(ModelName("m:bf16").workerKey == "m:bf16" && ModelName("m:bf16").dimension == nil)
        #expect(ModelName("m@64").workerKey == "m" && ModelName("m@64").precision == nil)
        #expect(ModelName("org:model").folder == "org:model" && ModelName("org:model").precision == nil)
        #expect(ModelName.variant("m@64", precision: "int8") == "m@64:int8")
        #expect(ModelName.variant("m", precision: "fp32") == "m")
    }

    @Test("idle workers take turns: one that was never dealt a shard goes before one that just finished")
    func idleWorkersTakeTurns() {
        var s = scheduler()
        s.add(shards(4), model: "m")
        for id in ["a", "b", "c"] { s.join(id: id, host: "h", threads: 1, models: ["m"], now: 0) }
        s.addCredit("a", 1)
        s.addCredit("b", 1)
        #expect(s.nextDeal(now: 1) == .shard(worker: "a", shard: 1))
        #expect(s.nextDeal(now: 2) == .shard(worker: "b", shard: 2))
        // a and b finished (their shards were never granted here, so they hold none); all three ask.
        for id in ["a", "b", "c"] { s.addCredit(id, 1) }
        #expect(s.nextDeal(now: 3) == .shard(worker: "c", shard: 3))
        #expect(s.nextDeal(now: 4) == .shard(worker: "a", shard: 4))
    }

    @Test("a lease without heartbeats lapses and its shard goes back to the front")
    func leaseLapses() {
        var s = scheduler(leaseSeconds: 5)
        s.add(shards(2), model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", 1)
        #expect(s.nextDeal(now: 0) == .shard(worker: "a", shard: 1))
        s.granted(token: 100, shard: 1, worker: "a", now: 0)
        _ = s.seen("a", now: 4)
        s.heartbeat("a", leases: [100], now: 4)
        #expect(s.expire(now: 8).revoked.isEmpty)
        _ = s.seen("a", now: 9)
        let expired = s.expire(now: 9.5)
        #expect(expired.revoked.map(\.token) == [100])
        #expect(s.queue == [1, 2])
    }

    @Test("a silent worker is declared dead and loses its leases")
    func deadWorker() {
        var s = scheduler(leaseSeconds: 5)
        s.add(shards(1), model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", 1)
        _ = s.nextDeal(now: 0)
        s.granted(token: 7, shard: 1, worker: "a", now: 0)
        let expired = s.expire(now: 6)
        #expect(expired.deadWorkers == ["a"])
        #expect(expired.revoked.map(\.token) == [7])
        #expect(s.workers.isEmpty)
        #expect(s.seen("a", now: 7) == false)
    }

    @Test("a shard that fails too often is isolated; a refusal does not count as an attempt")
    func failures() {
        var s = scheduler(maxAttempts: 2)
        s.add(shards(1), model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", 3)
        _ = s.nextDeal(now: 0)
        s.granted(token: 1, shard: 1, worker: "a", now: 0)
        #expect(s.failed(token: 1, fault: .returned) == .retry)
        _ = s.nextDeal(now: 0)
        s.granted(token: 2, shard: 1, worker: "a", now: 0)
        #expect(s.failed(token: 2) == .retry)
        _ = s.nextDeal(now: 0)
        s.granted(token: 3, shard: 1, worker: "a", now: 0)
        guard case .isolate(let record) = s.failed(token: 3) else {
            Issue.record("expected isolation")
            return
        }
        #expect(record.id == 1)
        #expect(s.openShardCount == 0)
    }

    /// Deals shard `shard` to `worker` as lease `token` (the worker must have credit).
    func deal(
        _ s: inout ShardScheduler,
        _ shard: Int64,
        to worker: String,
        token: Int64,
        now: Double = 0,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(s.nextDeal(now: now) == .shard(worker: worker, shard: shard), sourceLocation: sourceLocation)
        s.granted(token: token, shard: shard, worker: worker, now: now)
    }

    @Test("machine faults never count against a shard: worker, database and returned failures are retried forever")
    func machineFaults() {
        var s = scheduler(maxAttempts: 2)
        s.add(shards(1), model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", 16)
        for (token, fault) in zip(
            Int64(1)...30,
            Array(repeating: [ShardFault.worker, .database, .returned], count: 10).joined()
        ) {
            s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
            s.addCredit("a", 1)
            deal(&s, 1, to: "a", token: token)
            #expect(s.failed(token: token, fault: fault) == .retry)
        }
        #expect(s.shards[1]?.record.attempts == 0)
        #expect(s.queue == [1])
    }

    @Test("a worker that cannot run a model gets none of its shards, even after it says hello again; others do")
    func unhealthyWorker() {
        var s = scheduler()
        s.add(shards(2), model: "m")
        s.join(id: "broken", host: "h", threads: 1, models: ["m"], now: 0)
        s.join(id: "healthy", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("broken", 4)
        deal(&s, 1, to: "broken", token: 1)
        s.disable(model: "m", on: "broken", reason: "tokenizer.json: permission denied")
        #expect(s.failed(token: 1, fault: .worker) == .retry)
        #expect(s.workers["broken"]?.unhealthy == ["m": "tokenizer.json: permission denied"])
        #expect(s.nextDeal(now: 1) == nil)
        s.join(id: "broken", host: "h", threads: 1, models: ["m"], now: 2)
        s.addCredit("broken", 4)
        #expect(s.nextDeal(now: 2) == nil)
        s.addCredit("healthy", 2)
        #expect(s.nextDeal(now: 2) == .shard(worker: "healthy", shard: 1))
        #expect(s.nextDeal(now: 2) == .shard(worker: "healthy", shard: 2))
    }

    @Test("a worker whose database failed a commit is paused, then dealt again")
    func databasePause() {
        var s = scheduler()
        s.add(shards(1), model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", 4)
        deal(&s, 1, to: "a", token: 1)
        s.pause("a", reason: "lock timeout", now: 0)
        #expect(s.failed(token: 1, fault: .database) == .retry)
        #expect(s.nextDeal(now: 5) == nil)
        #expect(s.nextDeal(now: 11) == .shard(worker: "a", shard: 1))
    }

    @Test("a lone document is rejected only when a second worker fails it too, or the failure is certainly its own")
    func loneDocument() {
        func lone() -> [ShardRecord] {
            [ShardRecord(id: 1, job: 1, firstSeq: 0, lastSeq: 0, documentCount: 1, attempts: 0)]
        }
        // One worker failing it again and again: never rejected; it waits for another worker.
        var s = scheduler(maxAttempts: 2)
        s.add(lone(), model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", 16)
        deal(&s, 1, to: "a", token: 1)
        #expect(s.failed(token: 1) == .retry)
        deal(&s, 1, to: "a", token: 2)
        #expect(s.failed(token: 2) == .retry)
        #expect(s.shards[1]?.awaitingSecondWorker == true)
        #expect(s.nextDeal(now: 0) == nil, "not dealt to the worker that failed it")
        s.join(id: "b", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("b", 1)
        deal(&s, 1, to: "b", token: 3)
        guard case .isolate(let record) = s.failed(token: 3) else {
            Issue.record("two workers failed it: expected rejection")
            return
        }
        #expect(record.id == 1)

        // A certain document fault (the database refused its data): rejected without a second worker.
        var t = scheduler(maxAttempts: 2)
        t.add(lone(), model: "m")
        t.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        t.addCredit("a", 16)
        deal(&t, 1, to: "a", token: 1)
        #expect(t.failed(token: 1, certain: true) == .retry)
        deal(&t, 1, to: "a", token: 2)
        guard case .isolate = t.failed(token: 2, certain: true) else {
            Issue.record("a certain document fault: expected rejection")
            return
        }
    }

    /// A lone document (shard 1, model "m") that failed twice on worker "a", the only worker.
    func failedTwiceOnA(_ configuration: ShardScheduler.Configuration) -> ShardScheduler {
        var s = ShardScheduler(configuration: configuration)
        s.add([ShardRecord(id: 1, job: 1, firstSeq: 0, lastSeq: 0, documentCount: 1, attempts: 0)], model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", 16)
        deal(&s, 1, to: "a", token: 1)
        _ = s.failed(token: 1)
        deal(&s, 1, to: "a", token: 2)
        _ = s.failed(token: 2)
        return s
    }

    @Test(
        "a lone document that failed on the only worker able to run its model is rejected when no other comes in time"
    )
    func loneDocumentNoSecondWorker() {
        var configuration = ShardScheduler.Configuration()
        configuration.maxAttempts = 2
        configuration.leaseSeconds = 1000
        configuration.secondWorkerSeconds = 60
        var s = failedTwiceOnA(configuration)
        s.join(id: "other-model", host: "h", threads: 1, models: ["n"], now: 0)
        #expect(s.shards[1]?.awaitingSecondWorker == true)
        #expect(s.expire(now: 10).alone.isEmpty, "the wait starts")
        #expect(s.expire(now: 69).alone.isEmpty)
        // A worker able to take it joins: the clock stops; it leaves again: the clock starts again.
        s.join(id: "b", host: "h", threads: 1, models: ["m"], now: 69)
        #expect(s.expire(now: 80).alone.isEmpty)
        #expect(s.shards[1]?.aloneSince == nil)
        _ = s.leave("b")
        #expect(s.expire(now: 81).alone.isEmpty)
        #expect(s.expire(now: 140).alone.isEmpty)
        #expect(s.expire(now: 141).alone.map(\.id) == [1])
        #expect(s.shards[1] == nil && s.queue.isEmpty)

        // Dealt to another worker that gives it back unfailed and leaves between two passes: the wait starts again.
        var t = failedTwiceOnA(configuration)
        #expect(t.expire(now: 10).alone.isEmpty)
        t.join(id: "c", host: "h", threads: 1, models: ["m"], now: 60)
        t.addCredit("c", 1)
        deal(&t, 1, to: "c", token: 3, now: 60)
        #expect(t.failed(token: 3, fault: .returned) == .retry)
        _ = t.leave("c")
        #expect(t.expire(now: 75).alone.isEmpty, "c took it: the 60 s start again here")
        #expect(t.expire(now: 134).alone.isEmpty)
        #expect(t.expire(now: 136).alone.map(\.id) == [1])
    }

    @Test("a lease past the shard deadline is revoked even while its worker heartbeats")
    func shardDeadline() {
        var configuration = ShardScheduler.Configuration()
        configuration.leaseSeconds = 10
        configuration.shardDeadlineSeconds = 60
        var s = ShardScheduler(configuration: configuration)
        s.add(shards(1), model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", 1)
        deal(&s, 1, to: "a", token: 1)
        for second in stride(from: 5.0, through: 55, by: 5) {
            s.heartbeat("a", leases: [1], now: second)
            _ = s.seen("a", now: second)
            #expect(s.expire(now: second).revoked.isEmpty)
        }
        s.heartbeat("a", leases: [1], now: 61)
        _ = s.seen("a", now: 61)
        #expect(s.expire(now: 61).revoked.map(\.token) == [1])
        #expect(s.queue == [1])
    }

    @Test("at the end of a job an idle worker takes a copy of a slow shard; the first commit revokes the other")
    func speculativeCopy() {
        var s = scheduler(leaseSeconds: 100)
        s.add(shards(2), model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.join(id: "b", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", 1)
        s.addCredit("b", 1)
        _ = s.nextDeal(now: 0)
        _ = s.nextDeal(now: 0)
        s.granted(token: 1, shard: 1, worker: "a", now: 0)
        s.granted(token: 2, shard: 2, worker: "b", now: 0)
        _ = s.completed(shard: 2, token: 2, documents: 10, tokens: 100, embedSeconds: 3, now: 3)
        s.addCredit("b", 1)
        #expect(s.nextDeal(now: 3.5) == nil, "not slow yet")
        #expect(s.nextDeal(now: 5) == .copy(worker: "b", shard: 1))
        s.granted(token: 3, shard: 1, worker: "b", now: 5)
        let others = s.completed(shard: 1, token: 3, documents: 10, tokens: 100, embedSeconds: 2, now: 7)
        #expect(others.map(\.token) == [1])
        #expect(s.openShardCount == 0)
        #expect(s.workers["a"]!.leases.isEmpty)
    }

    @Test("after a restart, leases found in the database stay with the worker the database names")
    func adoption() {
        var s = scheduler(leaseSeconds: 5)
        s.add(shards(2), model: "m")
        s.adopt(token: 9, shard: 1, worker: "a", now: 0)
        #expect(s.queue == [2])
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 1)
        s.join(id: "b", host: "h", threads: 1, models: ["m"], now: 1)
        #expect(s.workers["a"]!.leases == [9])
        #expect(s.heartbeat("b", leases: [9], now: 1) == [9], "another worker cannot adopt it")
        #expect(s.leases[9]?.worker == "a")
        #expect(!s.holds("b", token: 9, shard: 1))
        let seen = s.seen("a", now: 4)
        #expect(seen)
        #expect(s.heartbeat("a", leases: [9], now: 4) == [])
        #expect(s.holds("a", token: 9, shard: 1))
        #expect(!s.holds("a", token: 9, shard: 2), "the token is for shard 1")
        #expect(s.expire(now: 8).revoked.isEmpty, "a's heartbeat at 4 kept it")
    }

    @Test("credit is capped and cannot overflow")
    func creditCapped() {
        var s = scheduler()
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", .max)
        s.addCredit("a", .max)
        #expect(s.workers["a"]!.credit == 16)
        s.addCredit("a", .min)
        #expect(s.workers["a"]!.credit == 0)
    }

    @Test("a worker that leaves returns its shards")
    func leaving() {
        var s = scheduler()
        s.add(shards(1), model: "m")
        s.join(id: "a", host: "h", threads: 1, models: ["m"], now: 0)
        s.addCredit("a", 1)
        _ = s.nextDeal(now: 0)
        s.granted(token: 4, shard: 1, worker: "a", now: 0)
        #expect(s.leave("a").map(\.token) == [4])
        #expect(s.queue == [1])
    }
}
