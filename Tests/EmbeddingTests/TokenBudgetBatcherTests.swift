import Testing

@testable import Embedding

@Suite("Token budget batching")
struct TokenBudgetBatcherTests {
    @Test(
        "every sequence lands in exactly one batch, within the budget, longest first",
        arguments: [[5, 1, 9, 3, 3, 7, 2], [10], [], [4, 4, 4, 4], [30, 1, 1]]
    )
    func batches(lengths: [Int]) {
        let batcher = TokenBudgetBatcher(tokenBudget: 10)
        let batches = batcher.batches(lengths: lengths)
        #expect(batches.flatMap { $0 }.sorted() == Array(lengths.indices))
        for batch in batches where batch.count > 1 {
            #expect(batch.reduce(0) { $0 + lengths[$1] } <= 10)
        }
        let order = batches.flatMap { $0 }.map { lengths[$0] }
        #expect(order == order.sorted(by: >))
    }
}
