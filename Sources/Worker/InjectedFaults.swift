/// Faults a test injects into a worker through DRIFTLESS_FAULTS, a comma-separated list:
/// - `fail-doc=ID`: embedding any shard that holds document ID fails (a document fault);
/// - `slow-shard=N:SECONDS`: a shard of at least N documents waits SECONDS before its commit.
public struct InjectedFaults: Sendable {
    public var failingDocument: String?
    public var slowShard: (documents: Int, seconds: Double)?

    public init(_ specification: String?) {
        for item in (specification ?? "").split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "fail-doc": failingDocument = parts[1]
            case "slow-shard":
                let values = parts[1].split(separator: ":")
                if values.count == 2, let documents = Int(values[0]), let seconds = Double(values[1]) {
                    slowShard = (documents, seconds)
                }
            default: continue
            }
        }
    }
}
