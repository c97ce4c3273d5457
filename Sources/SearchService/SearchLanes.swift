import Foundation
import PostgresClient
import Search
import Store

/// The service's database connections, each with the searchers opened on it: a search takes a
/// free lane, runs on it alone, and gives it back. Lanes bound how many searches run in
/// PostgreSQL at once; a lane whose connection was lost connects again when next taken.
final class SearchLanes: @unchecked Sendable {
    final class Lane {
        fileprivate(set) var connection: PostgresConnection?
        /// Searchers by index name, with when they were opened: a searcher reads the index's
        /// serving state when opened, so it is opened again after ``SearchLanes/servingRefresh``.
        fileprivate var searchers: [String: (searcher: IndexSearcher, opened: ContinuousClock.Instant)] = [:]
        fileprivate var broken = false
    }

    let url: String
    /// How long a searcher keeps the serving state it read (an upgrade or promotion is seen after at most this).
    let servingRefresh: Duration
    private let condition = NSCondition()
    private var free: [Lane]

    init(url: String, count: Int, servingRefresh: Duration = .seconds(2)) {
        self.url = url
        self.servingRefresh = servingRefresh
        free = (0..<max(1, count)).map { _ in Lane() }
    }

    /// Runs `body` on a free lane (waiting for one), connected.
    func withLane<T>(_ body: (Lane) throws -> T) throws -> T {
        condition.lock()
        while free.isEmpty { condition.wait() }
        let lane = free.removeLast()
        condition.unlock()
        defer {
            condition.lock()
            free.append(lane)
            condition.signal()
            condition.unlock()
        }
        if lane.broken || lane.connection == nil {
            lane.searchers = [:]
            lane.connection = nil
            lane.connection = try PostgresConnection(url: url, connectTimeout: 5)
            lane.broken = false
        }
        do { return try body(lane) } catch {
            if Self.isConnectionLoss(error) { lane.broken = true }
            throw error
        }
    }

    /// The searcher of `index` on `lane`, opened anew when older than ``servingRefresh``.
    func searcher(
        _ index: String,
        on lane: Lane,
        open: (PostgresConnection) throws(SearchError) -> IndexSearcher
    ) throws(SearchError) -> IndexSearcher {
        if let cached = lane.searchers[index], cached.opened.duration(to: .now) < servingRefresh {
            return cached.searcher
        }
        let searcher = try open(lane.connection!)
        lane.searchers[index] = (searcher, .now)
        return searcher
    }

    /// Forgets `index`'s searcher on `lane` (its generation was dropped: open it again).
    func forget(_ index: String, on lane: Lane) { lane.searchers[index] = nil }

    private static func isConnectionLoss(_ error: any Error) -> Bool {
        switch error {
        case let error as PostgresError: error.isConnectionLoss
        case let error as StoreError: error.isConnectionLoss
        case let error as SearchError: if case .store(let store) = error { store.isConnectionLoss } else { false }
        case let error as APIError: error.code == "database_unavailable"
        default: false
        }
    }
}
