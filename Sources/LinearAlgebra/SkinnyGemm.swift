import CSkinnyGemm

/// Products with few rows against a row-major weight matrix (`y += x Wᵀ`), reading each
/// weight once. For a search query's handful of tokens this is bound by reading the weights;
/// ``BLAS/sgemm(_:_:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` would first copy (pack) the whole
/// matrix, which costs more than the arithmetic at such sizes.
public enum SkinnyGemm {
    /// `y[r, o] += Σₖ x[r, k] · w[o, k]` for `r < rows`, `o < outputs`; leading dimensions are row strides.
    @inline(__always)
    public static func multiplyTransposed(
        rows: Int,
        outputs: Int,
        inputs: Int,
        x: UnsafePointer<Float>,
        ldx: Int,
        w: UnsafePointer<Float>,
        ldw: Int,
        y: UnsafeMutablePointer<Float>,
        ldy: Int
    ) {
        dl_skinny_sgemm_nt(rows, outputs, inputs, x, ldx, w, ldw, y, ldy)
    }
}
