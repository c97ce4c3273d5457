/// The coordinator's answers on the client endpoint.
public enum ClientReply: Codable, Sendable, Equatable {
    /// The job is open; `upload` is the token its documents and seal must carry.
    case accepted(job: Int64, upload: String)
    case ack(job: Int64, received: Int)
    case sealed(Sealed)
    /// A big job is being sealed in steps (the coordinator keeps serving meanwhile): poll
    /// `status` until the job leaves `receiving`; its counts are then in the status.
    case sealing(job: Int64)
    case status(StatusReport)
    /// The request could not be served; `message` names what is at fault.
    case failure(message: String)

    public struct Sealed: Codable, Sendable, Equatable {
        public var job: Int64
        public var shards: Int
        /// Documents to embed, and documents skipped because an identical version is already indexed.
        public var toEmbed: Int
        public var unchanged: Int
        /// A `mirror` job: documents deleted because the file lacks them (-1: none, because a
        /// rejected line had no id). Absent for other jobs.
        public var deleted: Int?
        public init(job: Int64, shards: Int, toEmbed: Int, unchanged: Int, deleted: Int? = nil) {
            self.job = job
            self.shards = shards
            self.toEmbed = toEmbed
            self.unchanged = unchanged
            self.deleted = deleted
        }
    }

    public init(from decoder: Decoder) throws {
        let type = try decoder.messageType()
        switch type {
        case "accepted":
            let body = try Accepted(from: decoder)
            self = .accepted(job: body.job, upload: body.upload)
        case "ack":
            let body = try Ack(from: decoder)
            self = .ack(job: body.job, received: body.received)
        case "sealed": self = .sealed(try Sealed(from: decoder))
        case "sealing": self = .sealing(job: try Sealing(from: decoder).job)
        case "status": self = .status(try StatusReport(from: decoder))
        case "failure": self = .failure(message: try Failure(from: decoder).message)
        default: throw WireError.unknownType(type)
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .accepted(let job, let upload): try encoder.encode(type: "accepted", Accepted(job: job, upload: upload))
        case .ack(let job, let received): try encoder.encode(type: "ack", Ack(job: job, received: received))
        case .sealed(let sealed): try encoder.encode(type: "sealed", sealed)
        case .sealing(let job): try encoder.encode(type: "sealing", Sealing(job: job))
        case .status(let report): try encoder.encode(type: "status", report)
        case .failure(let message): try encoder.encode(type: "failure", Failure(message: message))
        }
    }

    private struct Accepted: Codable {
        var job: Int64
        var upload: String
    }
    private struct Ack: Codable {
        var job: Int64
        var received: Int
    }
    private struct Failure: Codable { var message: String }
    private struct Sealing: Codable { var job: Int64 }
}
