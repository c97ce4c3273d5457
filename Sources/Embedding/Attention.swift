import LinearAlgebra

/// Scaled dot-product attention of one head over one sequence, read in place from the rows
/// of a projection (queries, keys and values each `length` rows of `size` floats, `stride`
/// apart) and written into the head's columns of the context rows.
enum Attention {
    /// `out = softmax(scale · Q Kᵀ + B) V`; B is whatever `scores` holds when `biased` (MPNet's
    /// relative position bias, filled in by the caller), and with `causal` token `i` sees only
    /// tokens `0…i` (decoders). `scores` must hold `length² + length` floats.
    static func head(
        queries q: UnsafePointer<Float>,
        keys k: UnsafePointer<Float>,
        values v: UnsafePointer<Float>,
        stride: Int,
        length: Int,
        size d: Int,
        biased: Bool = false,
        causal: Bool = false,
        scores: UnsafeMutablePointer<Float>,
        into out: UnsafeMutablePointer<Float>,
        outStride: Int
    ) {
        let sums = scores + length * length
        // A bias goes in first and the product adds to it, which saves OpenBLAS the pass
        // that clears the output.
        BLAS.sgemm(
            .none,
            .transpose,
            m: length,
            n: length,
            k: d,
            alpha: 1 / Float(d).squareRoot(),
            a: q,
            lda: stride,
            b: k,
            ldb: stride,
            beta: biased ? 1 : 0,
            c: scores,
            ldc: length
        )
        for i in 0..<length {
            let row = scores + i * length
            if causal {
                sums[i] = Kernels.exponentiate(row, count: i + 1)
                (row + i + 1).update(repeating: 0, count: length - i - 1)
            } else {
                sums[i] = Kernels.exponentiate(row, count: length)
            }
        }
        BLAS.sgemm(
            .none,
            .none,
            m: length,
            n: d,
            k: length,
            a: scores,
            lda: length,
            b: v,
            ldb: stride,
            c: out,
            ldc: outStride
        )
        // Softmax's division, done on the d outputs of a row rather than its L scores.
        for i in 0..<length { Kernels.scale(out + i * outStride, by: 1 / sums[i], count: d) }
    }
}
