/// The bounds every decoded message is checked against before it may touch a
/// coordinator's or worker's state (see Schemas/wire-protocol.md, "Limits").
/// A message outside them is dropped and counted, never partly applied.
public enum WireLimits {
    /// Frames in one message, the routing id included: every message is `[id, body]`.
    public static let framesPerMessage = 2
    /// Largest frame a coordinator's worker endpoint accepts: workers send hellos,
    /// credits, heartbeats and outcomes, all small. Bigger frames drop the connection.
    public static let workerFrameBytes: Int64 = 1 << 20
    /// Largest frame a coordinator's client endpoint accepts (a chunk of documents).
    public static let clientFrameBytes: Int64 = 64 << 20
    /// Bytes of one chunk a client builds (documents are sent in chunks no larger than
    /// this, and one document's fields may not exceed it).
    public static let chunkBytes = 32 << 20
    /// Shards a worker may ask for beyond those in hand.
    public static let credit = 1...1024
    /// Leases named in one heartbeat or goodbye.
    public static let leasesPerMessage = 4096
    /// Models announced in one hello.
    public static let modelsPerHello = 256
    /// Documents in one chunk of a submission, and rejected lines in one report.
    public static let documentsPerChunk = 10_000
    /// Ids in one `reembed` request (an upgrade's sample, a query's candidates).
    public static let reembedIds = 100_000
    /// Length of names, ids, hosts and versions; of an error text.
    public static let nameCharacters = 256
    public static let errorCharacters = 16_384
    /// Documents and tokens one shard can report; seconds one shard can take.
    public static let shardDocuments = 1...1_000_000
    public static let shardTokens = 0...(1 << 40)
    public static let shardSeconds = 0.0...(30 * 86_400.0)
    public static let threads = 1...4096
    /// What a `welcome` may ask of a worker.
    public static let heartbeatSeconds = 0.01...3600.0
    public static let leaseSeconds = 0.1...86_400.0
    public static let dimension = 1...65_536
}

/// A message that can say whether its values are within ``WireLimits``.
public protocol WireValidatable {
    /// Throws `WireError.invalid` naming the first field out of range.
    func validate() throws(WireError)
}

extension WireError {
    static func check(_ condition: Bool, _ reason: @autoclosure () -> String) throws(WireError) {
        if !condition { throw .invalid(reason()) }
    }
}

extension WorkerMessage: WireValidatable {
    public func validate() throws(WireError) {
        switch self {
        case .hello(let hello):
            try WireError.check(
                !hello.worker.isEmpty && hello.worker.count <= WireLimits.nameCharacters,
                "hello: worker id of \(hello.worker.count) characters"
            )
            try WireError.check(
                hello.host.count <= WireLimits.nameCharacters,
                "hello: host of \(hello.host.count) characters"
            )
            try WireError.check(
                hello.version.count <= WireLimits.nameCharacters,
                "hello: version of \(hello.version.count) characters"
            )
            try WireError.check(
                WireLimits.threads.contains(hello.threads),
                "hello: threads \(hello.threads) outside \(WireLimits.threads)"
            )
            try WireError.check(
                hello.models.count <= WireLimits.modelsPerHello,
                "hello: \(hello.models.count) models (at most \(WireLimits.modelsPerHello))"
            )
            for model in hello.models {
                try WireError.check(
                    !model.name.isEmpty && model.name.count <= WireLimits.nameCharacters,
                    "hello: a model name of \(model.name.count) characters"
                )
                try WireError.check(
                    model.weightsHash.count <= 128,
                    "hello: model \(model.name)'s hash of \(model.weightsHash.count) characters"
                )
                try WireError.check(
                    WireLimits.dimension.contains(model.dimension),
                    "hello: model \(model.name)'s dimension \(model.dimension)"
                )
                try WireError.check(
                    (model.prompts?.utf8.count ?? 0) <= 65_536,
                    "hello: model \(model.name)'s prompts of \(model.prompts?.utf8.count ?? 0) bytes (at most 65,536)"
                )
                try WireError.check(
                    (model.precisions ?? []).allSatisfy { ["fp32", "bf16", "int8"].contains($0) }
                        && (model.precisions?.count ?? 0) <= 3,
                    "hello: model \(model.name)'s precisions \(model.precisions ?? []) (each one of fp32, bf16, int8)"
                )
            }
        case .ready(let credit):
            try WireError.check(
                WireLimits.credit.contains(credit),
                "ready: credit \(credit) outside \(WireLimits.credit)"
            )
        case .heartbeat(let leases), .goodbye(let leases):
            try WireError.check(
                leases.count <= WireLimits.leasesPerMessage,
                "\(leases.count) leases in one message (at most \(WireLimits.leasesPerMessage))"
            )
            try WireError.check(leases.allSatisfy { $0 > 0 }, "a lease token that is not positive")
        case .shardDone(let done):
            try WireError.check(
                done.shard > 0 && done.lease > 0,
                "shard_done: shard \(done.shard), lease \(done.lease)"
            )
            try WireError.check(
                WireLimits.shardDocuments.contains(done.documents),
                "shard_done: documents \(done.documents) outside \(WireLimits.shardDocuments)"
            )
            try WireError.check(
                WireLimits.shardTokens.contains(done.tokens),
                "shard_done: tokens \(done.tokens) outside \(WireLimits.shardTokens)"
            )
            try WireError.check(
                WireLimits.shardSeconds.contains(done.embedSeconds),
                "shard_done: embedSeconds \(done.embedSeconds)"
            )
            try WireError.check(
                WireLimits.shardSeconds.contains(done.commitSeconds),
                "shard_done: commitSeconds \(done.commitSeconds)"
            )
        case .shardFailed(let failed):
            try WireError.check(
                failed.shard > 0 && failed.lease > 0,
                "shard_failed: shard \(failed.shard), lease \(failed.lease)"
            )
            try WireError.check(
                failed.error.count <= WireLimits.errorCharacters,
                "shard_failed: an error of \(failed.error.count) characters"
            )
        case .shardFenced(let shard, let lease):
            try WireError.check(shard > 0 && lease > 0, "shard_fenced: shard \(shard), lease \(lease)")
        }
    }
}

extension ClientRequest: WireValidatable {
    public func validate() throws(WireError) {
        switch self {
        case .submit(let submit):
            try WireError.check(
                !submit.index.isEmpty && submit.index.count <= 200,
                "submit: the index name must have 1 to 200 characters"
            )
            try WireError.check(
                submit.model.count <= WireLimits.nameCharacters,
                "submit: the model name must have at most 256 characters (none: the index's serving one)"
            )
            try WireError.check(
                (1...100_000).contains(submit.shardSize),
                "submit: shard size \(submit.shardSize) is out of range (1 to 100000)"
            )
            try WireError.check(submit.source.count <= 4096, "submit: a source of \(submit.source.count) characters")
        case .documents(let job, _, let documents):
            try WireError.check(job > 0, "documents: job \(job)")
            try WireError.check(
                documents.count <= WireLimits.documentsPerChunk,
                "documents: \(documents.count) in one chunk (at most \(WireLimits.documentsPerChunk))"
            )
            for document in documents {
                try WireError.check(document.line > 0, "documents: line \(document.line)")
                try WireError.check(!document.id.isEmpty, "documents: an empty id (line \(document.line))")
            }
        case .rejected(let job, _, let lines):
            try WireError.check(job > 0, "rejected: job \(job)")
            try WireError.check(
                lines.count <= WireLimits.documentsPerChunk,
                "rejected: \(lines.count) lines in one report (at most \(WireLimits.documentsPerChunk))"
            )
            try WireError.check(
                lines.allSatisfy { $0.line >= 0 && $0.error.count <= WireLimits.errorCharacters },
                "rejected: a line number or error out of range"
            )
        case .seal(let job, _, let documents):
            try WireError.check(job > 0 && documents >= 0, "seal: job \(job), documents \(documents)")
        case .abandon(let job, _):
            try WireError.check(job > 0, "abandon: job \(job)")
        case .cancel(let job):
            try WireError.check(job > 0, "cancel: job \(job)")
        case .reembed(let reembed):
            try WireError.check(
                [reembed.index, reembed.successor].allSatisfy { !$0.isEmpty && $0.count <= WireLimits.nameCharacters },
                "reembed: an index name of \(reembed.index.count) or \(reembed.successor.count) characters"
            )
            try WireError.check(
                (reembed.ids?.count ?? 0) <= WireLimits.reembedIds,
                "reembed: \(reembed.ids?.count ?? 0) ids (at most \(WireLimits.reembedIds))"
            )
            try WireError.check(
                (1...100_000).contains(reembed.shardSize),
                "reembed: shard size \(reembed.shardSize) is out of range (1 to 100000)"
            )
        case .status(let job):
            try WireError.check(job.map { $0 > 0 } ?? true, "status: job \(job ?? 0)")
        }
    }
}

extension CoordinatorMessage: WireValidatable {
    public func validate() throws(WireError) {
        if case .assign(let shard) = self {
            try WireError.check(
                WireLimits.shardDocuments.contains(shard.documentCount),
                "assign: \(shard.documentCount) documents outside \(WireLimits.shardDocuments)"
            )
            try WireError.check(
                WireLimits.dimension.contains(shard.dimension),
                "assign: dimension \(shard.dimension) outside \(WireLimits.dimension)"
            )
        }
        guard case .welcome(let welcome) = self else { return }
        try WireError.check(
            WireLimits.heartbeatSeconds.contains(welcome.heartbeatSeconds),
            "welcome: heartbeat \(welcome.heartbeatSeconds) s outside \(WireLimits.heartbeatSeconds)"
        )
        try WireError.check(
            WireLimits.leaseSeconds.contains(welcome.leaseSeconds),
            "welcome: lease \(welcome.leaseSeconds) s outside \(WireLimits.leaseSeconds)"
        )
    }
}
