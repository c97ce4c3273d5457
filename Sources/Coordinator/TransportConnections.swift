/// The TCP connections of the coordinator's two endpoints, as the socket monitors report them,
/// and how many whole messages each delivered. libzmq closes a connection without a word when a
/// frame header announces more than the endpoint's bound (`ZMQ_MAXMSGSIZE`), so a connection
/// that closes having delivered nothing is the one trace such an offence leaves.
///
/// Keyed by descriptor; bounded by the process's descriptors (a closed one is forgotten, and
/// an accept on a reused descriptor starts afresh).
public struct TransportConnections {
    public enum Endpoint: String, CaseIterable, Sendable {
        case worker
        case client
    }

    public struct Connection: Equatable {
        /// `host:port` of the peer, when it could still be read at the accept.
        public var address: String?
        public var accepted: Double
        public var messages = 0
        /// Whether the accept was seen (a message can be read before its accept event).
        public var seenAccept: Bool
    }

    public init() {}

    private var open: [Endpoint: [Int32: Connection]] = [:]

    /// The endpoint accepted a connection on `descriptor`.
    public mutating func accepted(_ descriptor: Int32, endpoint: Endpoint, address: String?, now: Double) {
        if var early = open[endpoint, default: [:]][descriptor], !early.seenAccept {
            // Its first messages were drained before the accept event was read.
            early.seenAccept = true
            early.address = early.address ?? address
            open[endpoint, default: [:]][descriptor] = early
        } else {
            open[endpoint, default: [:]][descriptor] = Connection(address: address, accepted: now, seenAccept: true)
        }
    }

    /// A whole message arrived on `descriptor`.
    public mutating func delivered(_ descriptor: Int32, endpoint: Endpoint, now: Double) {
        open[endpoint, default: [:]][descriptor, default: Connection(accepted: now, seenAccept: false)].messages += 1
    }

    /// The connection on `descriptor` closed: what was known of it (nil if its accept was never seen).
    public mutating func closed(_ descriptor: Int32, endpoint: Endpoint) -> Connection? {
        open[endpoint]?.removeValue(forKey: descriptor)
    }

    public func count(endpoint: Endpoint) -> Int { open[endpoint]?.count ?? 0 }
}
