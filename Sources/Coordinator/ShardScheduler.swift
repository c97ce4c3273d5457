import Store
import Wire

/// The coordinator's dealing logic as a plain value: which worker gets which
/// shard, when a lease expires, when a failing shard is split. No sockets, no
/// database: the loop that drives it (``CoordinatorServer``) does the I/O and
/// reports back. Times are seconds on a monotonic clock.
public struct ShardScheduler: Sendable {
    public struct Configuration: Sendable {
        /// A lease lapses when no heartbeat mentions it for this long; a silent worker is dead after it.
        public var leaseSeconds: Double = 15
        /// Attempts (leases granted) after which a failing shard is split.
        public var maxAttempts = 2
        /// Give idle workers copies of slow shards at the end of a job (first commit wins).
        public var speculate = true
        /// A lease is revoked this long after it was granted, heartbeats or not (a commit stuck
        /// behind a lock, a worker that heartbeats but never finishes).
        public var shardDeadlineSeconds: Double = 900
        /// A worker whose commit failed for the database's reasons is dealt nothing for this long.
        public var databasePauseSeconds: Double = 10
        /// A lone document that failed on every worker able to run its model waits this long for
        /// another such worker; when none comes it is rejected on their word (one worker's, on a
        /// cluster of one), rather than holding its job open for ever.
        public var secondWorkerSeconds: Double = 120
        public init() {}
    }

    public struct Worker: Sendable {
        public var id: String
        public var host: String
        public var threads: Int
        /// Models whose weights match the registry: the only ones dealt to this worker.
        public var models: Set<String>
        public var credit = 0
        public var lastSeen: Double
        public var leases: Set<Int64> = []
        public var documents = 0
        public var tokens = 0
        public var embedSeconds = 0.0
        /// Models this worker failed to run (it cannot load them), with the reason: none of their
        /// shards are dealt to it. A worker with any is unhealthy.
        public var unhealthy: [String: String] = [:]
        /// Dealt nothing before this time (its database failed a commit).
        public var pausedUntil = -Double.infinity
        /// The last database fault it reported.
        public var databaseProblem: String?
        /// When it was last dealt a shard: among idle workers, the one served longest ago goes first.
        public var lastDealt = -Double.infinity
    }

    public struct Lease: Sendable, Equatable {
        public var token: Int64
        public var shard: Int64
        /// The holder, as granted (or as the database recorded it, for a lease adopted after a restart).
        public var worker: String?
        public var granted: Double
        public var expires: Double
    }

    public struct OpenShard: Sendable {
        public var record: ShardRecord
        public var model: String
        public var leases: Set<Int64> = []
        /// Workers on which it failed for its documents (or died holding it).
        public var failedOn: Set<String> = []
        /// A document fault whose class is certainly the documents' was reported.
        public var certainlyDocuments = false
        /// A lone document that failed too often on one worker: dealt only to another, which
        /// either indexes it or confirms the failure (then it is rejected).
        public var awaitingSecondWorker = false
        /// Since when no worker that has not failed it could take it.
        public var aloneSince: Double?
    }

    public var configuration: Configuration
    public private(set) var workers: [String: Worker] = [:]
    public private(set) var shards: [Int64: OpenShard] = [:]
    public private(set) var leases: [Int64: Lease] = [:]
    /// Pending shards in dealing order.
    public private(set) var queue: [Int64] = []
    /// The last few thousand leases released, for telling a late report from a forged one.
    private var released: [Int64: Lease] = [:]
    private var releasedOrder: [Int64] = []
    /// Mean seconds from lease to commit, for deciding when a shard is slow.
    public private(set) var meanShardSeconds: Double?

    public init(configuration: Configuration = Configuration()) { self.configuration = configuration }

    // MARK: Shards

    public mutating func add(_ records: [ShardRecord], model: String, atFront: Bool = false) {
        var ids: [Int64] = []
        for record in records where shards[record.id] == nil {
            shards[record.id] = OpenShard(record: record, model: model)
            ids.append(record.id)
        }
        queue = atFront ? ids + queue : queue + ids
    }

    /// A lease that exists in the database (after a restart), held by `worker` as the database
    /// recorded it: only that worker's heartbeats keep it, and only it may report on it.
    public mutating func adopt(token: Int64, shard: Int64, worker: String, now: Double) {
        guard shards[shard] != nil else { return }
        queue.removeAll { $0 == shard }
        hold(token: token, shard: shard, worker: worker, now: now)
    }

    /// Forgets every shard of a cancelled job; returns their leases, for telling their holders.
    public mutating func cancel(job: Int64) -> [Lease] {
        let ids = shards.values.filter { $0.record.job == job }.map(\.record.id)
        var revoked: [Lease] = []
        for id in ids {
            for token in shards[id]?.leases ?? [] {
                if let lease = release(token, requeue: false) { revoked.append(lease) }
            }
            shards.removeValue(forKey: id)
        }
        queue.removeAll { ids.contains($0) }
        return revoked
    }

    public var openShardCount: Int { shards.count }

    public func openShards(job: Int64) -> Int { shards.values.filter { $0.record.job == job }.count }

    // MARK: Workers

    public mutating func join(id: String, host: String, threads: Int, models: Set<String>, now: Double) {
        if var known = workers[id] {
            // A model it could not load stays refused until the worker restarts.
            known.models = models.subtracting(known.unhealthy.keys)
            known.credit = 0
            known.lastSeen = now
            workers[id] = known
        } else {
            var worker = Worker(id: id, host: host, threads: threads, models: models, lastSeen: now)
            // Leases adopted after a restart that name this worker.
            worker.leases = Set(leases.values.filter { $0.worker == id }.map(\.token))
            workers[id] = worker
        }
    }

    /// The worker cannot run `model` (it failed to load it): none of its shards go there again.
    public mutating func disable(model: String, on id: String, reason: String) {
        guard workers[id] != nil else { return }
        // What it was dealt the shard as: the folder, or `FOLDER:PRECISION` (a cut needs nothing more).
        let key = ModelName(model).workerKey
        workers[id]!.models.remove(key)
        workers[id]!.unhealthy[key] = reason
    }

    /// The worker's database failed a commit: deal it nothing for a while.
    public mutating func pause(_ id: String, reason: String, now: Double) {
        guard workers[id] != nil else { return }
        workers[id]!.pausedUntil = now + configuration.databasePauseSeconds
        workers[id]!.databaseProblem = reason
    }

    /// Records that the worker spoke; false when it is unknown (it must say hello).
    public mutating func seen(_ id: String, now: Double) -> Bool {
        guard workers[id] != nil else { return false }
        workers[id]!.lastSeen = now
        return true
    }

    public mutating func addCredit(_ id: String, _ credit: Int) {
        guard workers[id] != nil else { return }
        // Clamped before adding: a credit near Int.max must not overflow.
        workers[id]!.credit = max(0, min(workers[id]!.credit + max(-16, min(credit, 16)), 16))
    }

    /// The worker holds these leases: keep them alive. Tokens it does not hold are returned
    /// (and change nothing): a heartbeat cannot adopt another worker's lease.
    @discardableResult
    public mutating func heartbeat(_ id: String, leases tokens: [Int64], now: Double) -> [Int64] {
        guard workers[id] != nil else { return tokens }
        var foreign: [Int64] = []
        for token in tokens {
            guard var lease = leases[token], lease.worker == id else {
                foreign.append(token)
                continue
            }
            lease.expires = now + configuration.leaseSeconds
            leases[token] = lease
            workers[id]!.leases.insert(token)
        }
        return foreign
    }

    /// Whether `worker` held lease `token` on `shard` until recently (it lapsed, was revoked or
    /// closed): a late report on it is a race, not an offence.
    public func held(_ worker: String, token: Int64, shard: Int64? = nil) -> Bool {
        guard let lease = released[token] else { return false }
        return lease.worker == worker && (shard == nil || lease.shard == shard)
    }

    /// Whether `worker` holds lease `token` on `shard`: the only sender whose report on it counts.
    public func holds(_ worker: String, token: Int64, shard: Int64) -> Bool {
        guard let lease = leases[token] else { return false }
        return lease.worker == worker && lease.shard == shard
    }

    /// The worker left: returns its leases (to revoke in the database).
    public mutating func leave(_ id: String) -> [Lease] {
        guard let worker = workers.removeValue(forKey: id) else { return [] }
        return worker.leases.compactMap { release($0, requeue: true) }
    }

    // MARK: Dealing

    public enum Deal: Sendable, Equatable {
        case shard(worker: String, shard: Int64)
        /// A copy of a slow shard for an idle worker (end of a job).
        case copy(worker: String, shard: Int64)
    }

    /// The next shard to deal, if any worker has credit for one.
    /// Whether ``nextDeal(now:)`` would deal something now, without dealing it.
    public func hasDeal(now: Double) -> Bool {
        var trial = self
        return trial.nextDeal(now: now) != nil
    }

    public mutating func nextDeal(now: Double) -> Deal? {
        // The fewest shards in hand first, then the one dealt to longest ago (not the smallest
        // id: workers that finish fast would keep the work from those never dealt any).
        let ready = workers.values.filter { $0.credit > 0 && $0.pausedUntil <= now }.sorted {
            ($0.leases.count, $0.lastDealt, $0.id) < ($1.leases.count, $1.lastDealt, $1.id)
        }
        for worker in ready {
            if let position = queue.firstIndex(where: {
                shards[$0].map {
                    worker.models.contains(ModelName($0.model).workerKey)
                        && !($0.awaitingSecondWorker && $0.failedOn.contains(worker.id))
                } ?? false
            }) {
                let shard = queue.remove(at: position)
                workers[worker.id]!.credit -= 1
                workers[worker.id]!.lastDealt = now
                return .shard(worker: worker.id, shard: shard)
            }
        }
        guard configuration.speculate, queue.isEmpty, let mean = meanShardSeconds else { return nil }
        // Only workers with nothing in hand take copies, of shards held by a single lease for 1.5× the usual time.
        for worker in ready where worker.leases.isEmpty {
            let slow = shards.values.filter { shard in
                worker.models.contains(ModelName(shard.model).workerKey) && shard.leases.count == 1
                    && shard.leases.allSatisfy {
                        leases[$0].map { now - $0.granted > max(2, 1.5 * mean) && $0.worker != worker.id } ?? false
                    }
            }
            if let shard = slow.min(by: { $0.record.id < $1.record.id }) {
                workers[worker.id]!.credit -= 1
                workers[worker.id]!.lastDealt = now
                return .copy(worker: worker.id, shard: shard.record.id)
            }
        }
        return nil
    }

    /// The database granted `token`; the shard is now in the worker's hands.
    public mutating func granted(token: Int64, shard: Int64, worker: String, now: Double) {
        hold(token: token, shard: shard, worker: worker, now: now)
        shards[shard]?.record.attempts += 1
        // Another worker took it: the wait for one is over (it starts again if that one leaves).
        shards[shard]?.aloneSince = nil
    }

    /// Records that `worker` holds lease `token` on `shard` from `now`.
    private mutating func hold(token: Int64, shard: Int64, worker: String, now: Double) {
        shards[shard]?.leases.insert(token)
        leases[token] = Lease(
            token: token,
            shard: shard,
            worker: worker,
            granted: now,
            expires: now + configuration.leaseSeconds
        )
        workers[worker]?.leases.insert(token)
    }

    /// The shard could not be leased (it is no longer open): forget it, return the credit.
    public mutating func notDealt(shard: Int64, worker: String, stillOpen: Bool) {
        if stillOpen { queue.insert(shard, at: 0) } else { shards.removeValue(forKey: shard) }
        addCredit(worker, 1)
    }

    // MARK: Outcomes

    /// A commit succeeded: the shard is closed. Returns the other leases of it (copies) to revoke.
    public mutating func completed(
        shard: Int64,
        token: Int64,
        documents: Int,
        tokens: Int,
        embedSeconds: Double,
        now: Double
    ) -> [Lease] {
        if let lease = leases[token], let worker = lease.worker {
            workers[worker]?.documents &+= documents
            workers[worker]?.tokens &+= tokens
            workers[worker]?.embedSeconds += embedSeconds
            let seconds = now - lease.granted
            meanShardSeconds = meanShardSeconds.map { 0.8 * $0 + 0.2 * seconds } ?? seconds
        }
        let tokens = shards[shard]?.leases ?? []
        var others: [Lease] = []
        for other in tokens {
            if let lease = release(other, requeue: false), other != token { others.append(lease) }
        }
        _ = release(token, requeue: false)
        shards.removeValue(forKey: shard)
        queue.removeAll { $0 == shard }
        return others
    }

    public enum FailureDecision: Sendable, Equatable {
        /// Dealt again later.
        case retry
        /// Failed too often: split it (or reject its one document).
        case isolate(ShardRecord)
        /// Not open any more (done elsewhere, or unknown).
        case ignore
    }

    /// The worker reported a failure (or its lease lapsed, `fault` then `.document`: the worker may
    /// have died on one of its documents). Only a document fault counts an attempt against the
    /// shard; the others deal it again as it is. A shard that failed `maxAttempts` times for its
    /// documents is split; a lone document is rejected only when the failure is certainly its own
    /// or a second worker fails it too (until then it waits for another worker).
    public mutating func failed(token: Int64, fault: ShardFault = .document, certain: Bool = false) -> FailureDecision {
        guard let lease = leases[token], var shard = shards[lease.shard] else {
            _ = release(token, requeue: false)
            return .ignore
        }
        guard fault == .document else {
            shards[lease.shard]?.record.attempts -= 1
            _ = release(token, requeue: true)
            return .retry
        }
        if let worker = lease.worker { shard.failedOn.insert(worker) }
        shard.certainlyDocuments = shard.certainlyDocuments || certain
        let confirmed = shard.record.documentCount > 1 || shard.certainlyDocuments || shard.failedOn.count >= 2
        let exhausted = shard.record.attempts >= configuration.maxAttempts
        shard.awaitingSecondWorker = shard.awaitingSecondWorker || (exhausted && !confirmed)
        shards[lease.shard] = shard
        if exhausted && shard.leases.count == 1 && confirmed {
            _ = release(token, requeue: false)
            shards.removeValue(forKey: lease.shard)
            queue.removeAll { $0 == lease.shard }
            return .isolate(shard.record)
        }
        _ = release(token, requeue: true)
        return .retry
    }

    /// Leases that lapsed (no heartbeat) and workers that went silent, removed from the state.
    /// Each returned lease must be revoked in the database; its shard was queued again
    /// (or must be isolated, when `isolate` holds it).
    public mutating func expire(
        now: Double
    ) -> (revoked: [Lease], deadWorkers: [String], isolate: [ShardRecord], alone: [ShardRecord]) {
        var dead: [String] = []
        for worker in workers.values where now - worker.lastSeen > configuration.leaseSeconds {
            dead.append(worker.id)
        }
        // Lapsed (no heartbeat), or past the shard deadline however alive its holder looks.
        var lapsed = leases.values.filter {
            $0.expires < now || now - $0.granted > configuration.shardDeadlineSeconds
        }.map(\.token)
        for id in dead {
            lapsed += workers[id]!.leases
            workers.removeValue(forKey: id)
        }
        var revoked: [Lease] = []
        var isolate: [ShardRecord] = []
        for token in Set(lapsed).sorted() {
            guard let lease = leases[token] else { continue }
            revoked.append(lease)
            if case .isolate(let record) = failed(token: token) { isolate.append(record) }
        }
        return (revoked, dead.sorted(), isolate, rejectAlone(now: now))
    }

    /// Lone documents awaiting a second worker for `secondWorkerSeconds` while no worker that
    /// has not failed them can run their model: removed, to be rejected.
    private mutating func rejectAlone(now: Double) -> [ShardRecord] {
        var alone: [ShardRecord] = []
        for (id, shard) in shards where shard.awaitingSecondWorker && shard.leases.isEmpty {
            let another = workers.values.contains {
                $0.models.contains(ModelName(shard.model).workerKey) && !shard.failedOn.contains($0.id)
            }
            if another {
                shards[id]?.aloneSince = nil
            } else if let since = shard.aloneSince {
                guard now - since >= configuration.secondWorkerSeconds else { continue }
                shards.removeValue(forKey: id)
                queue.removeAll { $0 == id }
                alone.append(shard.record)
            } else {
                shards[id]?.aloneSince = now
            }
        }
        return alone.sorted { $0.id < $1.id }
    }

    /// Removes a lease from every record; with `requeue`, puts its shard back at the front of
    /// the queue when no other lease holds it.
    private mutating func release(_ token: Int64, requeue: Bool) -> Lease? {
        guard let lease = leases.removeValue(forKey: token) else { return nil }
        released[token] = lease
        releasedOrder.append(token)
        if releasedOrder.count > 4096 { released.removeValue(forKey: releasedOrder.removeFirst()) }
        if let worker = lease.worker { workers[worker]?.leases.remove(token) }
        shards[lease.shard]?.leases.remove(token)
        if requeue, let shard = shards[lease.shard], shard.leases.isEmpty, !queue.contains(lease.shard) {
            queue.insert(lease.shard, at: 0)
        }
        return lease
    }
}

extension WorkerMessage.ModelAnnouncement {
    /// The names this announcement lets the worker be dealt (``ModelName/workerKey``): `NAME` for
    /// float32, `NAME:PRECISION` for the others; a worker older than `precisions` runs float32.
    public var runnableNames: [String] {
        (precisions ?? ["fp32"]).map { ModelName.variant(name, precision: $0) }
    }
}
