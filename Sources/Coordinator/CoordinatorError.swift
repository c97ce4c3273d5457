import Store
import ZeroMQ

public enum CoordinatorError: Error, CustomStringConvertible {
    case configuration(String)
    case store(StoreError)
    case socket(ZeroMQError)
    case model(path: String, reason: String)
    case coordinatorUnreachable(endpoint: String, seconds: Double)
    case refused(String)

    public var description: String {
        switch self {
        case .configuration(let message): "configuration: \(message)"
        case .store(let error): "\(error)"
        case .socket(let error): "\(error)"
        case .model(let path, let reason): "model \(path): \(reason)"
        case .coordinatorUnreachable(let endpoint, let seconds):
            "no answer from the coordinator at \(endpoint) within \(Int(seconds)) s (is `coord serve` running? are the keys right?)"
        case .refused(let message): message
        }
    }
}
