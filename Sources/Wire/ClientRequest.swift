#if canImport(Corpus)
import Corpus
#endif

/// What `coord submit` / `coord status` send the coordinator's client endpoint.
public enum ClientRequest: Codable, Sendable, Equatable {
    /// Opens a job; answered with `accepted(job)`.
    case submit(Submit)
    /// Valid documents of an open job, in file order; answered with `ack`. `upload` is the token
    /// the job's `accepted` reply gave: only the client that opened a job may add to it.
    case documents(job: Int64, upload: String, documents: [Document])
    /// Lines of the file that were skipped as invalid (`--skip-invalid`), recorded as rejected.
    case rejected(job: Int64, upload: String, lines: [RejectedLine])
    /// No more documents: the coordinator drops unchanged ones, cuts shards and starts dealing.
    case seal(job: Int64, upload: String, documents: Int)
    /// One job, or all recent ones when `job` is nil.
    case status(job: Int64?)
    /// The client gives up an open upload (Ctrl-C, an error): the job is failed and its staged
    /// documents deleted. Answered with `ack`.
    case abandon(job: Int64, upload: String)
    /// `coord cancel`: stops a job that is receiving or running (its leases revoked, its staged
    /// documents deleted; what was committed stays). Answered with `ack`, or `failure` naming its state.
    case cancel(job: Int64)
    /// Documents an index holds, embedded again into its successor (`coord upgrade`'s sample, `coord
    /// reindex`, re-scoring on demand): the coordinator stages them from the database itself, at their
    /// versions — those of `ids` (all when nil) the successor holds no vector of the current version
    /// for. No upload: answered like `seal` (`sealed`, or `sealing` for a big job).
    case reembed(Reembed)

    public struct Submit: Codable, Sendable, Equatable {
        public var protocolVersion: Int
        public var index: String
        public var model: String
        public var shardSize: Int
        public var source: String
        /// Documents a query is waiting for (re-scoring's on-demand embedding): dealt before every
        /// other job's shards, and done without an HNSW build. Absent means false.
        public var urgent: Bool?
        /// The file is the whole index: documents the index holds and the file lacks are deleted
        /// when the upload is sealed (`coord submit --mirror`). Absent means false.
        public var mirror: Bool?
        /// Record a later duplicate id as rejected and keep the first (`--skip-invalid`); otherwise
        /// a duplicate found while staging fails the job. Absent means false.
        public var skipInvalid: Bool?
        /// How a new index stores its vectors (`vector` or `halfvec`); an existing index's must
        /// match. Absent: an existing index's, `vector` for a new one.
        public var storage: String?
        /// The task of the index's queries (`coord submit --instruction`), filled into the query
        /// prompt of models that take one. Absent: the model's own; fixed when the index is made.
        public var instruction: String?
        public init(
            protocolVersion: Int = WireProtocol.version,
            index: String,
            model: String,
            shardSize: Int,
            source: String,
            urgent: Bool = false,
            mirror: Bool = false,
            skipInvalid: Bool = false,
            storage: String? = nil,
            instruction: String? = nil
        ) {
            self.protocolVersion = protocolVersion
            self.index = index
            self.model = model
            self.shardSize = shardSize
            self.source = source
            self.urgent = urgent ? true : nil
            self.mirror = mirror ? true : nil
            self.skipInvalid = skipInvalid ? true : nil
            self.storage = storage
            self.instruction = instruction
        }
    }

    public struct Reembed: Codable, Sendable, Equatable {
        public var index: String
        /// The successor index (`INDEX@MODEL`): its model embeds them.
        public var successor: String
        public var ids: [String]?
        public var shardSize: Int
        /// As in `submit`: a query waits for them.
        public var urgent: Bool?

        public init(index: String, successor: String, ids: [String]?, shardSize: Int, urgent: Bool = false) {
            self.index = index
            self.successor = successor
            self.ids = ids
            self.shardSize = shardSize
            self.urgent = urgent ? true : nil
        }
    }

    public struct RejectedLine: Codable, Sendable, Equatable {
        public var line: Int
        public var id: String?
        public var error: String
        public init(line: Int, id: String?, error: String) {
            self.line = line
            self.id = id
            self.error = error
        }
    }

    public init(from decoder: Decoder) throws {
        let type = try decoder.messageType()
        switch type {
        case "submit": self = .submit(try Submit(from: decoder))
        case "documents":
            let body = try Documents(from: decoder)
            self = .documents(job: body.job, upload: body.upload, documents: body.documents)
        case "rejected":
            let body = try Rejected(from: decoder)
            self = .rejected(job: body.job, upload: body.upload, lines: body.lines)
        case "seal":
            let body = try Seal(from: decoder)
            self = .seal(job: body.job, upload: body.upload, documents: body.documents)
        case "status": self = .status(job: try Status(from: decoder).job)
        case "abandon":
            let body = try Abandon(from: decoder)
            self = .abandon(job: body.job, upload: body.upload)
        case "cancel": self = .cancel(job: try Cancel(from: decoder).job)
        case "reembed": self = .reembed(try Reembed(from: decoder))
        default: throw WireError.unknownType(type)
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .submit(let submit): try encoder.encode(type: "submit", submit)
        case .documents(let job, let upload, let documents):
            try encoder.encode(type: "documents", Documents(job: job, upload: upload, documents: documents))
        case .rejected(let job, let upload, let lines):
            try encoder.encode(type: "rejected", Rejected(job: job, upload: upload, lines: lines))
        case .seal(let job, let upload, let documents):
            try encoder.encode(type: "seal", Seal(job: job, upload: upload, documents: documents))
        case .status(let job): try encoder.encode(type: "status", Status(job: job))
        case .abandon(let job, let upload): try encoder.encode(type: "abandon", Abandon(job: job, upload: upload))
        case .cancel(let job): try encoder.encode(type: "cancel", Cancel(job: job))
        case .reembed(let reembed): try encoder.encode(type: "reembed", reembed)
        }
    }

    private struct Documents: Codable {
        var job: Int64
        var upload: String
        var documents: [Document]
    }
    private struct Rejected: Codable {
        var job: Int64
        var upload: String
        var lines: [RejectedLine]
    }
    private struct Seal: Codable {
        var job: Int64
        var upload: String
        var documents: Int
    }
    private struct Status: Codable { var job: Int64? }
    private struct Cancel: Codable { var job: Int64 }
    private struct Abandon: Codable {
        var job: Int64
        var upload: String
    }
}
