/// What a worker sends the coordinator.
public enum WorkerMessage: Codable, Sendable, Equatable {
    /// First message, and again whenever the coordinator says `reset`.
    case hello(Hello)
    /// `credit` more shards may be sent (in flight at once: one embedding, the next arriving).
    case ready(credit: Int)
    /// Alive, with the shards (lease tokens) in hand; keeps their leases.
    case heartbeat(leases: [Int64])
    case shardDone(ShardDone)
    case shardFailed(ShardFailed)
    /// The worker's commit was refused: its lease had been revoked.
    case shardFenced(shard: Int64, lease: Int64)
    /// Leaving (SIGTERM): shards not yet done may be dealt again at once.
    case goodbye(returning: [Int64])

    public struct Hello: Codable, Sendable, Equatable {
        public var protocolVersion: Int
        public var worker: String
        public var host: String
        public var version: String
        public var threads: Int
        public var models: [ModelAnnouncement]
        public init(
            protocolVersion: Int = WireProtocol.version,
            worker: String,
            host: String,
            version: String,
            threads: Int,
            models: [ModelAnnouncement]
        ) {
            self.protocolVersion = protocolVersion
            self.worker = worker
            self.host = host
            self.version = version
            self.threads = threads
            self.models = models
        }
    }

    public struct ModelAnnouncement: Codable, Sendable, Equatable {
        public var name: String
        public var weightsHash: String
        public var dimension: Int
        /// The folder's prompts (`{"name": "template"}`), which the registry also records: a
        /// worker with other prompts would index documents unlike the rest of the index. Absent
        /// from workers older than this field.
        public var prompts: String?
        /// The precisions the worker runs the model in ("fp32", "bf16", "int8"): it is dealt only
        /// shards of indexes whose model (`FOLDER:PRECISION`) is in one of them. Absent from
        /// workers older than this field, which run float32 only.
        public var precisions: [String]?
        public init(
            name: String,
            weightsHash: String,
            dimension: Int,
            prompts: String? = nil,
            precisions: [String]? = nil
        ) {
            self.name = name
            self.weightsHash = weightsHash
            self.dimension = dimension
            self.prompts = prompts
            self.precisions = precisions
        }

    }

    public struct ShardDone: Codable, Sendable, Equatable {
        public var shard: Int64
        public var lease: Int64
        public var documents: Int
        public var tokens: Int
        /// Embedding time and database commit time, seconds.
        public var embedSeconds: Double
        public var commitSeconds: Double
        public init(
            shard: Int64,
            lease: Int64,
            documents: Int,
            tokens: Int,
            embedSeconds: Double,
            commitSeconds: Double
        ) {
            self.shard = shard
            self.lease = lease
            self.documents = documents
            self.tokens = tokens
            self.embedSeconds = embedSeconds
            self.commitSeconds = commitSeconds
        }
    }

    public struct ShardFailed: Codable, Sendable, Equatable {
        public var shard: Int64
        public var lease: Int64
        public var error: String
        /// Whose fault it was: only a document fault counts against the shard.
        public var fault: ShardFault
        /// A document fault whose error class is certainly the documents' (the database refused
        /// their data): one such failure of a lone document rejects it, without a second worker.
        public var certain: Bool
        public init(shard: Int64, lease: Int64, error: String, fault: ShardFault = .document, certain: Bool = false) {
            self.shard = shard
            self.lease = lease
            self.error = error
            self.fault = fault
            self.certain = certain && fault == .document
        }
    }

    public init(from decoder: Decoder) throws {
        let type = try decoder.messageType()
        switch type {
        case "hello": self = .hello(try Hello(from: decoder))
        case "ready": self = .ready(credit: try Credit(from: decoder).credit)
        case "heartbeat": self = .heartbeat(leases: try Leases(from: decoder).leases)
        case "shard_done": self = .shardDone(try ShardDone(from: decoder))
        case "shard_failed": self = .shardFailed(try ShardFailed(from: decoder))
        case "shard_fenced":
            let lease = try ShardLease(from: decoder)
            self = .shardFenced(shard: lease.shard, lease: lease.lease)
        case "goodbye": self = .goodbye(returning: try Leases(from: decoder).leases)
        default: throw WireError.unknownType(type)
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .hello(let hello): try encoder.encode(type: "hello", hello)
        case .ready(let credit): try encoder.encode(type: "ready", Credit(credit: credit))
        case .heartbeat(let leases): try encoder.encode(type: "heartbeat", Leases(leases: leases))
        case .shardDone(let done): try encoder.encode(type: "shard_done", done)
        case .shardFailed(let failed): try encoder.encode(type: "shard_failed", failed)
        case .shardFenced(let shard, let lease):
            try encoder.encode(type: "shard_fenced", ShardLease(shard: shard, lease: lease))
        case .goodbye(let leases): try encoder.encode(type: "goodbye", Leases(leases: leases))
        }
    }

    /// The `"type"` this message is sent as.
    public var typeName: String {
        switch self {
        case .hello: "hello"
        case .ready: "ready"
        case .heartbeat: "heartbeat"
        case .shardDone: "shard_done"
        case .shardFailed: "shard_failed"
        case .shardFenced: "shard_fenced"
        case .goodbye: "goodbye"
        }
    }

    private struct Credit: Codable { var credit: Int }
    private struct Leases: Codable { var leases: [Int64] }
}

struct ShardLease: Codable {
    var shard: Int64
    var lease: Int64
}

/// Why a shard failed, as the worker tells it. A machine is never blamed on documents: only
/// `document` counts an attempt against the shard (and so can split it and, for a lone
/// document, reject it); the others deal it again as it is.
public enum ShardFault: String, Codable, Sendable, Equatable, CaseIterable {
    /// The shard's documents could not be embedded or stored (the same failure may follow them anywhere).
    case document
    /// This worker cannot do the work: its model does not load (a broken or unreadable folder),
    /// weights or dimension differ, out of memory, disk. It is dealt no more of that model's shards.
    case worker
    /// The database failed the commit for its own reasons: unreachable past the retry budget,
    /// a lock or statement timeout, disk full, a permission or constraint error.
    case database
    /// Handed back unstarted (the worker is stopping): nothing is wrong with anyone.
    case returned
}
