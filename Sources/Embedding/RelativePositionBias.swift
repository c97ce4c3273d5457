import Foundation

/// MPNet's relative position bias: a learned scalar per head and bucket of
/// the distance between two tokens, added to the attention scores.
///
/// The bias depends on `j - i` only, so it is tabulated once per head over
/// every distance; row `i` of a sequence then reads a contiguous slice.
struct RelativePositionBias: Sendable {
    /// `heads × (2·longest - 1)`: entry `(h, j - i + longest - 1)`.
    let table: [Float]
    let longest: Int

    init(weight: [Float], buckets: Int, heads: Int, longest: Int, maxDistance: Int = 128) {
        precondition(weight.count == buckets * heads, "relative attention bias shape")
        let width = 2 * longest - 1
        var table = [Float](repeating: 0, count: heads * width)
        for distance in -(longest - 1)...(longest - 1) {
            let bucket = Self.bucket(relativePosition: distance, buckets: buckets, maxDistance: maxDistance)
            for h in 0..<heads {
                table[h * width + distance + longest - 1] = weight[bucket * heads + h]
            }
        }
        self.table = table
        self.longest = longest
    }

    /// The bucket of `memory - context` exactly as the reference computes it,
    /// in `Float` arithmetic (the logarithm's rounding decides bucket edges).
    static func bucket(relativePosition: Int, buckets: Int, maxDistance: Int) -> Int {
        let half = buckets / 2
        var n = -relativePosition
        var bucket = n < 0 ? half : 0
        n = abs(n)
        let maxExact = half / 2
        if n < maxExact { return bucket + n }
        let scaled =
            logf(Float(n) / Float(maxExact)) / Float(log(Double(maxDistance) / Double(maxExact)))
            * Float(half - maxExact)
        bucket += min(maxExact + Int(scaled), half - 1)
        return bucket
    }

    /// Writes head `head`'s bias into the `length × length` score block.
    func fill(head: Int, into scores: UnsafeMutablePointer<Float>, length: Int) {
        table.withUnsafeBufferPointer { t in
            let base = t.baseAddress! + head * (2 * longest - 1) + longest - 1
            for i in 0..<length {
                (scores + i * length).update(from: base - i, count: length)
            }
        }
    }
}
