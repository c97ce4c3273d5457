import Synchronization

/// A shared counter that hands out consecutive integers to threads.
final class AtomicCounter: Sendable {
    private let value = Atomic<Int>(0)

    /// Returns the current value and adds one.
    func increment() -> Int {
        value.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}
