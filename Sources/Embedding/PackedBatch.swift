/// Sequences of token ids laid end to end, without padding: the encoder's
/// matrices have one row per real token, and attention runs per sequence.
struct PackedBatch: Sendable {
    let ids: [Int32]
    /// Row of each sequence's first token.
    let starts: [Int]
    let lengths: [Int]

    init(_ sequences: [[Int32]]) {
        var ids: [Int32] = []
        ids.reserveCapacity(sequences.reduce(0) { $0 + $1.count })
        var starts: [Int] = []
        for sequence in sequences {
            starts.append(ids.count)
            ids.append(contentsOf: sequence)
        }
        self.ids = ids
        self.starts = starts
        lengths = sequences.map(\.count)
    }

    var count: Int { starts.count }
    var tokenCount: Int { ids.count }
    var longest: Int { lengths.max() ?? 0 }

    /// Position of each row within its own sequence.
    var positions: [Int] {
        var positions = [Int](repeating: 0, count: tokenCount)
        for (start, length) in zip(starts, lengths) {
            for i in 0..<length { positions[start + i] = i }
        }
        return positions
    }
}
