import CSkinnyGemm

/// Products with few rows against a row-major weight matrix (`y += x Wᵀ`), reading each
/// weight once. For a search query's handful of tokens this is bound by reading the weights;
/// ``BLAS/sgemm(_:_:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` would first copy (pack) the whole
/// matrix, which costs more than the arithmetic at such sizes.
public enum SkinnyGemm {
    /// The kernels: AVX-512 (tiles of 4 rows × 6 outputs) where the CPU has it, else AVX2 + FMA.
    public enum Kernel: String, Sendable, CaseIterable {
        case avx512 = "AVX-512"
        case avx2 = "AVX2"

        /// Whether this CPU runs it (AVX2 stands for the plain path in a build without it).
        public var isAvailable: Bool { self == .avx2 || dl_skinny_sgemm_has_avx512() != 0 }
    }

    /// The kernel ``multiplyTransposed(kernel:rows:outputs:inputs:x:ldx:w:ldw:y:ldy:)`` uses by default: AVX-512 when
    /// the CPU has it, unless `DRIFTLESS_SKINNY_AVX512=0`.
    public static var kernel: Kernel { dl_skinny_sgemm_uses_avx512() != 0 ? .avx512 : .avx2 }

    /// `y[r, o] += Σₖ x[r, k] · w[o, k]` for `r < rows`, `o < outputs`; leading dimensions are row
    /// strides. With ``kernel`` unless another (available) one is named.
    @inline(__always)
    public static func multiplyTransposed(
        kernel chosen: Kernel? = nil,
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
        guard let chosen else { return dl_skinny_sgemm_nt(rows, outputs, inputs, x, ldx, w, ldw, y, ldy) }
        precondition(chosen.isAvailable, "the \(chosen.rawValue) kernel on a CPU without it")
        dl_skinny_sgemm_nt_kernel(chosen == .avx512 ? 1 : 0, rows, outputs, inputs, x, ldx, w, ldw, y, ldy)
    }
}
