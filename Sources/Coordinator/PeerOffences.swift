/// Which peers have already been logged for dropped messages: each offending peer is
/// logged once per reason (every drop is counted in the metric), so a flood cannot fill
/// the log. Bounded: past `capacity` peers nothing new is remembered, and nothing more logged.
struct PeerOffences {
    let capacity: Int
    private var logged: Set<String> = []

    init(capacity: Int = 10_000) { self.capacity = capacity }

    /// True the first time `peer` offends for `reason` (the caller logs then).
    mutating func firstTime(_ peer: String, _ reason: DropReason) -> Bool {
        let key = "\(reason.rawValue)\u{0}\(peer)"
        guard logged.count < capacity, !logged.contains(key) else { return false }
        logged.insert(key)
        return true
    }
}
