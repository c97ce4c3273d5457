import Coordinator
import Corpus
import Foundation
import Testing
import Wire

@Suite("ClientRequestOrder")
struct ClientRequestOrderTests {
    let alice = Data("alice".utf8)
    let bob = Data("bob".utf8)

    func chunk(_ n: Int) -> ClientRequest {
        .documents(job: 1, upload: "u", documents: [Document(line: n, id: "d\(n)", title: "", text: "t")])
    }

    /// What `order` gives back for `peer` now, as long as it gives something.
    func released(_ order: inout ClientRequestOrder, _ peer: Data) -> [ClientRequest] {
        var requests: [ClientRequest] = []
        while let next = order.release(peer) { requests.append(next.request) }
        return requests
    }

    @Test(
        "chunks go on behind chunks; anything else waits until they are through, and what came after it too, in order; other clients do not wait"
    )
    func order() throws {
        var order = ClientRequestOrder()
        #expect(!order.mustWait(chunk(1), from: alice))
        order.chunkQueued(from: alice)
        #expect(!order.mustWait(chunk(2), from: alice))
        order.chunkQueued(from: alice)
        #expect(order.mustWait(.status(job: nil), from: alice))
        #expect(!order.mustWait(.status(job: nil), from: bob))
        let heldStatus = order.hold(.status(job: 1), key: nil, from: alice)
        // A chunk behind a waiting request waits too.
        #expect(order.mustWait(chunk(3), from: alice))
        let heldChunk = order.hold(chunk(3), key: nil, from: alice)
        #expect(heldStatus && heldChunk)
        order.chunkDone(from: alice)
        #expect(released(&order, alice).isEmpty)
        order.chunkDone(from: alice)
        #expect(released(&order, alice) == [.status(job: 1), chunk(3)])
        #expect(!order.mustWait(.status(job: nil), from: alice))
    }

    @Test("a client that does not wait for its replies is bounded: chunks in flight, then requests held")
    func bounds() throws {
        var order = ClientRequestOrder()
        for n in 0..<ClientRequestOrder.chunksPerClient {
            #expect(!order.mustWait(chunk(n), from: alice))
            order.chunkQueued(from: alice)
        }
        #expect(order.mustWait(chunk(9), from: alice))
        var held = 0
        while order.hold(chunk(10 + held), key: nil, from: alice) { held += 1 }
        #expect(held == ClientRequestOrder.heldPerClient)
        order.chunkDone(from: alice)
        // One chunk through: one held chunk may go, no more.
        guard let next = order.release(alice) else {
            Issue.record("nothing released")
            return
        }
        #expect(next.request == chunk(10))
        order.chunkQueued(from: alice)
        #expect(released(&order, alice).isEmpty)
    }
}
