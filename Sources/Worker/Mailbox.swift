import Foundation

/// A queue between two threads: `put` from one, `take` (blocking) or `drain` from the other.
final class Mailbox<Item: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Item] = []
    private var closed = false

    func put(_ item: Item) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    /// The next item, waiting for one; nil once closed and empty.
    func take() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        return items.isEmpty ? nil : items.removeFirst()
    }

    /// Everything waiting, without blocking.
    func drain() -> [Item] {
        condition.lock()
        defer { condition.unlock() }
        let taken = items
        items.removeAll()
        return taken
    }

    /// No more items will come: `take` returns nil from now on. Returns what was still waiting, removed.
    @discardableResult
    func close() -> [Item] {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        let left = items
        items.removeAll()
        condition.broadcast()
        return left
    }
}
