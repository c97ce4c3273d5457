import Foundation
import Wire

/// Keeps each client's replies in the order of its requests while its chunks are written off the
/// loop (``UploadStager``): a client keeps a few chunks in flight and takes the replies in order,
/// so a request that comes after a chunk is answered only once that chunk is. Chunks may follow
/// chunks (that is the pipelining) up to ``chunksPerClient``; anything else waits here. Pure
/// bookkeeping, bounded per client.
public struct ClientRequestOrder {
    /// Chunks one client may have with the stager (`coord submit` keeps 2).
    public static let chunksPerClient = 4
    /// Requests one client may have waiting behind its chunks.
    public static let heldPerClient = 8

    public init() {}

    private var chunks: [Data: Int] = [:]
    private var held: [Data: [(request: ClientRequest, key: Peer?)]] = [:]

    /// Chunks of `peer` with the stager.
    public func chunksInFlight(_ peer: Data) -> Int { chunks[peer] ?? 0 }

    /// Whether `request` from `peer` must wait behind earlier ones.
    public func mustWait(_ request: ClientRequest, from peer: Data) -> Bool {
        held[peer]?.isEmpty == false || !mayGo(request, from: peer)
    }

    private func mayGo(_ request: ClientRequest, from peer: Data) -> Bool {
        request.isChunk ? chunksInFlight(peer) < Self.chunksPerClient : chunksInFlight(peer) == 0
    }

    /// Keeps `request` until ``release(_:)`` gives it back; false when `peer` has
    /// ``heldPerClient`` waiting already (a client that does not wait for its replies).
    public mutating func hold(_ request: ClientRequest, key: Peer?, from peer: Data) -> Bool {
        guard (held[peer]?.count ?? 0) < Self.heldPerClient else { return false }
        held[peer, default: []].append((request, key))
        return true
    }

    public mutating func chunkQueued(from peer: Data) { chunks[peer, default: 0] += 1 }

    public mutating func chunkDone(from peer: Data) {
        guard let count = chunks[peer] else { return }
        chunks[peer] = count > 1 ? count - 1 : nil
    }

    /// The next request of `peer` to answer now, if its turn has come: a chunk may go while chunks
    /// are in flight, anything else once they are all through.
    public mutating func release(_ peer: Data) -> (request: ClientRequest, key: Peer?)? {
        guard let first = held[peer]?.first, mayGo(first.request, from: peer) else { return nil }
        held[peer]!.removeFirst()
        if held[peer]!.isEmpty { held[peer] = nil }
        return first
    }
}

extension ClientRequest {
    /// A chunk of an upload's documents.
    public var isChunk: Bool {
        if case .documents = self { return true }
        return false
    }
}
