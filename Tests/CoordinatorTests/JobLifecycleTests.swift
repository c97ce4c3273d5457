import Coordinator
import Foundation
import JobStates
import Store
import Testing

@Suite("JobLifecycle")
struct JobLifecycleTests {
    static func index(_ id: Int64) -> IndexRecord {
        IndexRecord(
            id: id,
            name: "index\(id)",
            collectionId: id,
            model: ModelRecord(
                name: "m",
                architecture: "bert",
                dimension: 4,
                pooling: "mean",
                normalized: true,
                maxSequenceLength: 128,
                prompts: "{}",
                weightsHash: "h"
            ),
            vectorTable: "index_vectors_\(id)"
        )
    }

    let alice = Data("alice".utf8)
    let bob = Data("bob".utf8)

    func lifecycle(sealBatch: Int = 100, idle: Double = 300) -> JobLifecycle {
        JobLifecycle(limits: .init(sealBatch: sealBatch, uploadIdleSeconds: idle))
    }

    @Test(
        "an upload is its opener's: another client's token is refused, a wrong count refuses the seal, nothing changes"
    )
    func ownership() throws {
        var jobs = lifecycle()
        let token = jobs.opened(job: 1, index: Self.index(1), shardSize: 8, urgent: false, owner: alice, now: 0)
        #expect(throws: JobLifecycle.UploadRefusal.notOwner(1)) { try jobs.upload(1, token: "0123456789abcdef") }
        #expect(throws: JobLifecycle.UploadRefusal.notReceiving(2)) { try jobs.upload(2, token: token.text) }
        #expect(try jobs.upload(1, token: token.text).staged == 0)
        jobs.staged(1, count: 30, now: 1)
        #expect(jobs.seal(1, count: 29) == .refuse("job 1: the client sent 29 documents but 30 arrived"))
        #expect(jobs.jobs[1]?.phase == .receiving)
        #expect(jobs.seal(1, count: 30) == .now(documents: 30))
        jobs.sealed(1)
        #expect(jobs.jobs[1]?.phase == .running)
        #expect(jobs.toCheck == [1])
        // Sealed: no longer an upload, for anyone.
        #expect(throws: JobLifecycle.UploadRefusal.notReceiving(1)) { try jobs.upload(1, token: token.text) }
        jobs.staged(1, count: 5, now: 2)
        #expect(jobs.jobs[1]?.staged == 30)
    }

    @Test(
        "chunks with the stager are numbered on from each other, a seal waits for them, a failed one's numbers are not reused and its upload is never sealed"
    )
    func pendingChunks() throws {
        var jobs = lifecycle(idle: 10)
        _ = jobs.opened(job: 1, index: Self.index(1), shardSize: 8, urgent: false, owner: alice, now: 0)
        let step1 = jobs.queued(1, count: 500, now: 1)
        #expect(step1 == 0)
        let step2 = jobs.queued(1, count: 500, now: 1)
        #expect(step2 == 500)
        #expect(
            jobs.seal(1, count: 1000)
                == .refuse("job 1: 1000 documents are still being staged; seal once every chunk is acknowledged")
        )
        let step3 = jobs.staged(1, count: 500, now: 2)
        #expect(step3 == 500)
        let step4 = jobs.queued(1, count: 200, now: 2)
        #expect(step4 == 1000)
        // The second chunk failed: its numbers are not reused by the chunk after it (skipped in turn).
        let step5 = jobs.staged(1, count: 500, stored: false, now: 3)
        #expect(step5 == 500)
        #expect(jobs.jobs[1]?.pending == 200)
        #expect(
            jobs.seal(1, count: 500)
                == .refuse("job 1: 200 documents are still being staged; seal once every chunk is acknowledged")
        )
        jobs.staged(1, count: 200, now: 4)
        // Documents 0–499 and 1000–1199 are staged: a gap, never sealed.
        #expect(jobs.seal(1, count: 700) == .refuse("job 1: 500 documents sent were not staged; submit it again"))
        #expect(jobs.jobs[1]?.phase == .receiving)
    }

    @Test("open uploads are capped per client and in all; sealed ones no longer count")
    func uploadCaps() {
        var jobs = lifecycle()
        for job in 1...8 {
            #expect(jobs.refusalToOpen(owner: alice) == nil)
            _ = jobs.opened(job: Int64(job), index: Self.index(1), shardSize: 8, urgent: false, owner: alice, now: 0)
        }
        #expect(jobs.refusalToOpen(owner: alice)?.contains("already has 8 uploads open") == true)
        #expect(jobs.refusalToOpen(owner: bob) == nil)
        #expect(jobs.seal(1, count: 0) == .now(documents: 0))
        jobs.sealed(1)
        #expect(jobs.refusalToOpen(owner: alice) == nil)
    }

    @Test("a big upload is sealed in bounded steps that cover every document once, then runs")
    func sealedInSteps() {
        var jobs = lifecycle(sealBatch: 100)
        _ = jobs.opened(job: 7, index: Self.index(1), shardSize: 8, urgent: false, owner: alice, now: 0)
        jobs.staged(7, count: 250, now: 0)
        #expect(jobs.seal(7, count: 250) == .inSteps(documents: 250))
        #expect(jobs.phase(of: 7) == "sealing: 0 of 250 documents checked")
        var covered: [ClosedRange<Int>] = []
        while let step = jobs.sealSteps().first {
            #expect(step.through - step.from < 100)
            covered.append(step.from...step.through)
            jobs.sealStepDone(7, through: step.through)
            #expect(jobs.jobs[7]?.phase != .running)
        }
        #expect(covered == [0...99, 100...199, 200...249])
        #expect(jobs.sealStepsDone.map(\.id) == [7])
        jobs.sealed(7)
        #expect(jobs.running(7) != nil)
        #expect(jobs.sealStepsDone.isEmpty && jobs.phase(of: 7) == nil)
    }

    @Test("an upload that sends nothing for the idle time is expired; one that keeps sending is not")
    func idleUploads() {
        var jobs = lifecycle(idle: 10)
        _ = jobs.opened(job: 1, index: Self.index(1), shardSize: 8, urgent: false, owner: alice, now: 0)
        _ = jobs.opened(job: 2, index: Self.index(1), shardSize: 8, urgent: false, owner: bob, now: 0)
        jobs.staged(2, count: 1, now: 8)
        jobs.touched(1, now: 4)
        #expect(jobs.idleUploads(now: 12) == [])
        #expect(jobs.idleUploads(now: 15) == [1])
        jobs.dropped(1)
        #expect(jobs.idleUploads(now: 30) == [2])
        #expect(jobs.jobs[1] == nil)
    }

    @Test("all shards done: an urgent job and a job whose index has another running job finish without a build")
    func completion() {
        var jobs = lifecycle()
        for (job, index, urgent) in [(1, 1, false), (2, 1, false), (3, 2, true), (4, 3, false)]
            as [(Int64, Int64, Bool)]
        {
            _ = jobs.opened(job: job, index: Self.index(index), shardSize: 8, urgent: urgent, owner: alice, now: 0)
            _ = jobs.seal(job, count: 0)
            jobs.sealed(job)
        }
        // Job 5 of index 3 is still an upload: it may never be sealed, so job 4 builds.
        _ = jobs.opened(job: 5, index: Self.index(3), shardSize: 8, urgent: false, owner: alice, now: 0)
        #expect(jobs.toCheck == [1, 2, 3, 4])
        #expect(
            jobs.complete(1) == .done(reason: "job done; another job of its index is running and builds the HNSW index")
        )
        #expect(jobs.complete(2) == .build)
        #expect(jobs.complete(3) == .done(reason: "urgent job done (no HNSW build)"))
        #expect(jobs.complete(4) == .build)
        #expect(jobs.complete(4) == nil)
        #expect(jobs.toCheck.isEmpty)
        #expect(jobs.jobs[2]?.phase == .indexing(retry: false))
        #expect(jobs.runningCount == 0)
        // Checks reach running jobs only.
        jobs.check(nil)
        #expect(jobs.toCheck.isEmpty)
    }

    @Test("a build that loses the database is queued again once it is back; a failed one finishes with its error")
    func builds() {
        var jobs = lifecycle()
        jobs.resumed(JobRecord(id: 1, index: Self.index(1), state: .indexing), indexing: true)
        jobs.resumed(JobRecord(id: 2, index: Self.index(2), state: .indexing), indexing: true)
        jobs.resumed(JobRecord(id: 3, index: Self.index(3), state: .running), indexing: false)
        #expect(jobs.toCheck == [3])
        #expect(jobs.buildEnded(1, failure: ("gone", true)) == .retryLater)
        #expect(jobs.buildEnded(2, failure: ("bad", false)) == .finish(error: "bad"))
        jobs.finished(2)
        #expect(jobs.buildsToRetry().map(\.id) == [1])
        #expect(jobs.buildsToRetry().isEmpty)
        #expect(jobs.buildEnded(1, failure: nil) == .finish(error: nil))
        jobs.finishFailed(1)
        #expect(jobs.buildsToRetry().map(\.record) == [JobRecord(id: 1, index: Self.index(1), state: .indexing)])
    }
}
