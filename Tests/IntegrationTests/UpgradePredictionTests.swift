import Foundation
import Store
import Testing
import Upgrade

/// The paired bootstrap behind `coord upgrade`'s refusal to switch to a predicted loss.
@Suite("Upgrade prediction")
struct UpgradePredictionTests {
    @Test("a constant change has no uncertainty; a clear loss is a loss; a noisy zero is not")
    func intervals() {
        let old = (0..<400).map { Double($0 % 10) / 10 }
        let constant = UpgradePrediction(mode: .project, serving: "x", new: old.map { $0 + 0.1 }, old: old)
        #expect(
            abs(constant.change - 0.1) < 1e-12 && abs(constant.low - 0.1) < 1e-12 && abs(constant.high - 0.1) < 1e-12
        )
        #expect(!constant.isLoss)

        // Every fourth pseudo-query loses its document (reciprocal rank 1 → 0): a loss of 0.25 on average.
        let ones = [Double](repeating: 1, count: 400)
        let worse = UpgradePrediction(
            mode: .project,
            serving: "x",
            new: (0..<400).map { $0 % 4 == 0 ? 0 : 1 },
            old: ones
        )
        #expect(abs(worse.change + 0.25) < 1e-12)
        #expect(worse.isLoss && worse.high < 0 && worse.low < worse.change && worse.change < worse.high)

        // Half gain 0.5, half lose 0.5: no change beyond the noise.
        let noisy = UpgradePrediction(
            mode: .project,
            serving: "x",
            new: (0..<400).map { $0 % 2 == 0 ? 1 : 0 },
            old: .init(repeating: 0.5, count: 400)
        )
        #expect(abs(noisy.change) < 1e-12 && noisy.low < 0 && noisy.high > 0 && !noisy.isLoss)
        // A small loss on few queries is within the uncertainty.
        let few = UpgradePrediction(
            mode: .project,
            serving: "x",
            new: [1, 1, 0.5, 1, 1, 1, 0, 1],
            old: [1, 1, 1, 1, 1, 1, 0.5, 1]
        )
        #expect(few.change < 0 && !few.isLoss, "\(few.summary)")
    }

    @Test("a predicted loss is refused, naming the index and the advice, unless forced; no loss switches")
    func decision() throws {
        // 12 pseudo-queries the old model ranks first: three falling to rank 2 or 4 sit at the interval's edge
        // (upper end 0: switched), four falling are a loss (refused).
        let edge = UpgradePrediction(
            mode: .project,
            serving: "p",
            new: [0.5, 0.5, 0.25] + .init(repeating: 1, count: 9),
            old: .init(repeating: 1, count: 12)
        )
        let loss = UpgradePrediction(
            mode: .project,
            serving: "p",
            new: [0.5, 0.5, 0.5, 0.25] + .init(repeating: 1, count: 8),
            old: .init(repeating: 1, count: 12)
        )
        #expect(!edge.isLoss && edge.high == 0, "\(edge.summary)")
        #expect(loss.isLoss, "\(loss.summary)")
        #expect(try UpgradeWorkflow.decide(edge, advice: "a", index: "sci", force: false) == nil)
        #expect(try UpgradeWorkflow.decide(loss, advice: "prefer fuse", index: "sci", force: true) == "prefer fuse")
        let refusal = #expect(throws: UpgradeWorkflow.Refusal.self) {
            try UpgradeWorkflow.decide(loss, advice: "prefer fuse", index: "sci", force: false)
        }
        #expect(
            refusal?.description.contains("index sci not switched: p is predicted to lose") == true
                && refusal?.description.contains("prefer fuse; --force switches anyway") == true,
            "\(String(describing: refusal))"
        )
    }

    @Test("seeded: the same pseudo-queries and seed give the same interval")
    func seeded() {
        let new = (0..<300).map { Double(($0 * 7) % 11) / 10 }
        let old = (0..<300).map { Double(($0 * 5) % 11) / 10 }
        #expect(
            UpgradePrediction(mode: .project, serving: "x", new: new, old: old, seed: 7)
                == UpgradePrediction(mode: .project, serving: "x", new: new, old: old, seed: 7)
        )
        #expect(
            UpgradePrediction(mode: .project, serving: "x", new: new, old: old, seed: 7).summary.contains(
                "300 pseudo-queries"
            )
        )
    }
}
