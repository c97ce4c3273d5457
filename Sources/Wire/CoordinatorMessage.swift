/// What the coordinator sends a worker.
public enum CoordinatorMessage: Codable, Sendable, Equatable {
    case welcome(Welcome)
    /// The worker cannot be served (protocol version, bad hello); it should exit with `reason`.
    case refused(reason: String)
    /// One of the worker's models differs from the registry's; shards for it will not be dealt to this worker.
    case modelRefused(model: String, reason: String)
    case assign(ShardAssignment)
    /// The lease is gone (expired, or the shard was done elsewhere): stop and drop the shard.
    case revoke(shard: Int64, lease: Int64)
    /// The coordinator does not know this worker (it restarted, or declared it dead): say hello again.
    case reset
    case heartbeat

    public struct Welcome: Codable, Sendable, Equatable {
        public var protocolVersion: Int
        public var coordinator: String
        public var heartbeatSeconds: Double
        public var leaseSeconds: Double
        public init(
            protocolVersion: Int = WireProtocol.version,
            coordinator: String,
            heartbeatSeconds: Double,
            leaseSeconds: Double
        ) {
            self.protocolVersion = protocolVersion
            self.coordinator = coordinator
            self.heartbeatSeconds = heartbeatSeconds
            self.leaseSeconds = leaseSeconds
        }
    }

    public init(from decoder: Decoder) throws {
        let type = try decoder.messageType()
        switch type {
        case "welcome": self = .welcome(try Welcome(from: decoder))
        case "refused": self = .refused(reason: try Reason(from: decoder).reason)
        case "model_refused":
            let refusal = try ModelRefusal(from: decoder)
            self = .modelRefused(model: refusal.model, reason: refusal.reason)
        case "assign": self = .assign(try ShardAssignment(from: decoder))
        case "revoke":
            let lease = try ShardLease(from: decoder)
            self = .revoke(shard: lease.shard, lease: lease.lease)
        case "reset": self = .reset
        case "heartbeat": self = .heartbeat
        default: throw WireError.unknownType(type)
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .welcome(let welcome): try encoder.encode(type: "welcome", welcome)
        case .refused(let reason): try encoder.encode(type: "refused", Reason(reason: reason))
        case .modelRefused(let model, let reason):
            try encoder.encode(type: "model_refused", ModelRefusal(model: model, reason: reason))
        case .assign(let assignment): try encoder.encode(type: "assign", assignment)
        case .revoke(let shard, let lease): try encoder.encode(type: "revoke", ShardLease(shard: shard, lease: lease))
        case .reset: try encoder.encode(type: "reset", Empty())
        case .heartbeat: try encoder.encode(type: "heartbeat", Empty())
        }
    }

    private struct Reason: Codable { var reason: String }
    private struct ModelRefusal: Codable {
        var model: String
        var reason: String
    }
}
