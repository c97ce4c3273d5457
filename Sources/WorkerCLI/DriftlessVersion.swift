/// The version `worker --version` and `worker info` print.
enum DriftlessVersion {
    static let current = "0.1.0"
}
