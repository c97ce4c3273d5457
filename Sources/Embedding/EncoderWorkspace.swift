/// The activations of one forward pass, reused from batch to batch. Not
/// thread-safe: one per embedding thread of control.
final class EncoderWorkspace {
    let hidden = ScratchBuffer()
    let qkv = ScratchBuffer()
    let context = ScratchBuffer()
    let projected = ScratchBuffer()
    let intermediate = ScratchBuffer()
    /// Decoders: the MLP's gated activations.
    let gated = ScratchBuffer()
    /// Attention scores, one `L × L` block (and `L` row sums) per pool thread.
    private(set) var scores: [ScratchBuffer] = []

    func reserveScores(threads: Int, longest: Int) -> [UnsafeMutablePointer<Float>] {
        while scores.count < threads { scores.append(ScratchBuffer()) }
        return scores.prefix(threads).map { $0.reserve(longest * longest + longest) }
    }
}
