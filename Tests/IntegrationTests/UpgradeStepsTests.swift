import Compat
import Search
import Store
import Testing

@testable import Upgrade

/// The fit's steps one by one, on plain vectors and a stand-in encoder (no database, no model),
/// kept beside the Upgrade suites that run them whole.
@Suite("Upgrade steps")
struct UpgradeStepsTests {
    /// Bag-of-words vectors: each word hashed (FNV-1a) to one of 64 dimensions, at unit length.
    struct WordHashEncoder: TextEncoding {
        func embed(_ texts: [String]) -> [[Float]] { texts.map(Self.vector) }
        func embedDocuments(_ texts: [String]) -> [[Float]] { texts.map(Self.vector) }

        static func vector(_ text: String) -> [Float] {
            var vector = [Float](repeating: 0, count: 64)
            for word in text.lowercased().split(whereSeparator: { !$0.isLetter }) {
                let hash = word.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
                vector[Int(hash % 64)] += 1
            }
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? vector.map { $0 / norm } : vector
        }
    }

    static func unit(_ seed: Int, dimension: Int = 8) -> [Float] {
        var generator = SplitMix64(seed: UInt64(seed))
        let raw = (0..<dimension).map { _ in Float.random(in: -1...1, using: &generator) }
        let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return raw.map { $0 / norm }
    }

    @Test("pairs: documents with both vectors in sample order, then queries; a seeded fifth held out of the fit")
    func pairs() {
        let ids = (0..<50).map { "d\($0)" }
        let old = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, Self.unit($0)) })
        var new = old
        new["d3"] = nil
        new["d40"] = nil
        let queries = (
            new: [[Float]](repeating: Self.unit(1), count: 3), old: [[Float]](repeating: Self.unit(2), count: 3)
        )
        let pairs = FittingPairs(sample: ids, old: old, new: new, texts: [:], queryPairs: queries, seed: 42)
        #expect(pairs.paired.count == 48 && !pairs.paired.contains("d3") && pairs.paired.first == "d0")
        #expect(pairs.newSide.count == 51 && pairs.oldSide.count == 51 && pairs.queryPairs == 3)
        #expect(pairs.heldOut.count == 9 && Set(pairs.heldOut).isSubset(of: Set(pairs.paired)))
        let fittedDocuments = pairs.fittingRows.filter { $0 < 48 }.map { pairs.paired[$0] }
        #expect(Set(fittedDocuments).isDisjoint(with: Set(pairs.heldOut)), "validation must not see fitted documents")
        #expect(fittedDocuments.count == 39 && pairs.fittingRows.suffix(3) == [48, 49, 50])
        let again = FittingPairs(sample: ids, old: old, new: new, texts: [:], queryPairs: queries, seed: 42)
        let other = FittingPairs(sample: ids, old: old, new: new, texts: [:], queryPairs: queries, seed: 7)
        #expect(again.heldOut == pairs.heldOut && other.heldOut != pairs.heldOut)
    }

    @Test("projection choice: procrustes recovers a rotation from the fitting rows, and again from every pair")
    func choice() throws {
        let ids = (0..<60).map { "d\($0)" }
        let old = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, Self.unit($0 + 100)) })
        // The new space: the old one with its coordinates reversed and every other one negated.
        func rotate(_ v: [Float]) -> [Float] { v.reversed().enumerated().map { $0 % 2 == 0 ? $1 : -$1 } }
        let new = old.mapValues(rotate)
        let pairs = FittingPairs(sample: ids, old: old, new: new, texts: [:], queryPairs: ([], []), seed: 42)
        var scored = 0
        let choice = try ProjectionChoice(pairs, method: .procrustes, options: .init()) { _ in
            scored += 1
            return 0.5
        }
        #expect(scored == 1 && choice.scores.map(\.method) == [.procrustes] && choice.final.method == .procrustes)
        for id in pairs.heldOut {
            for projection in [choice.validated, choice.final] {
                let mapped = try projection.apply(new[id]!)
                #expect(zip(mapped, old[id]!).reduce(0) { $0 + $1.0 * $1.1 } > 0.999)
            }
        }
    }

    @Test("validation: a successor identical to the old model is predicted to change nothing, and fuse ties go low")
    func validation() throws {
        let sentences = [
            "Alpha particles were measured in the upper chamber of the reactor.",
            "Beta blockers reduced the heart rate of every patient in the trial.",
            "Gamma rays scattered from the lead shielding around the detector.",
            "Delta waves appeared during the deepest stage of sleep in adults.",
            "Epsilon toxin binds to receptors on the kidney cells of sheep.",
            "Zeta potential governs how colloids settle in salty water samples.",
        ]
        let ids = (0..<30).map { "d\($0)" }
        // A word of letters only for each document (digits are not words to this encoder).
        func word(_ i: Int) -> String {
            String(UnicodeScalar(97 + i % 26)!) + String(UnicodeScalar(97 + i / 26)!) + "q"
        }
        let texts = Dictionary(
            uniqueKeysWithValues: ids.enumerated().map { i, id in
                let body = (0..<3).map { sentences[(i + $0 * 5) % 6] + " Case \(word(i)) is noted here." }
                return (id, (title: "Study \(word(i))", body: body.joined(separator: " ")))
            }
        )
        let encoder = WordHashEncoder()
        let vectors = texts.mapValues { WordHashEncoder.vector($0.title + " " + $0.body) }
        let pairs = FittingPairs(sample: ids, old: vectors, new: vectors, texts: texts, queryPairs: ([], []), seed: 42)
        let validation = try PseudoQueryValidation(pairs, encoders: (old: encoder, new: encoder), seed: 42)
        #expect(!validation.queries.isEmpty)
        // drift (the mean difference added) is the identity between identical spaces.
        let choice = try ProjectionChoice(pairs, method: .drift, options: .init()) {
            validation.meanReciprocalRank(try validation.projected($0))
        }
        let projected = try validation.projected(choice.validated)
        let (prediction, alternatives) = try validation.predictions(
            mode: .project,
            projection: choice.validated,
            projected: projected,
            fuseWeight: nil,
            newEncoder: encoder
        )
        #expect(abs(prediction.change) < 1e-6 && !prediction.isLoss && alternatives.isEmpty, "\(prediction)")
        let curve = validation.fuseCurve(projected)
        #expect(curve.scores.count == 11 && Set(curve.scores.map { ($0.score * 1e6).rounded() }).count == 1)
        #expect(curve.best == 0.0, "on a tie the smaller weight")
    }
}
