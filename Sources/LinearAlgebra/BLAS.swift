import COpenBLAS
import Foundation

/// Single-precision BLAS through OpenBLAS, row-major throughout.
///
/// OpenBLAS keeps one global thread count. Driftless parallelises its kernels
/// itself (``ComputePool``) and runs OpenBLAS single-threaded inside them, so
/// that two pool threads calling `sgemm` at once never fight over OpenBLAS's
/// own threads.
public enum BLAS {
    public enum Transpose: Sendable {
        case none, transpose
        var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
    }

    /// `C = alpha * op(A) * op(B) + beta * C`; `C` is `m × n`, `op(A)` is `m × k`,
    /// `op(B)` is `k × n`; leading dimensions are row strides in elements.
    @inline(__always)
    public static func sgemm(
        _ transA: Transpose,
        _ transB: Transpose,
        m: Int,
        n: Int,
        k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>,
        lda: Int,
        b: UnsafePointer<Float>,
        ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>,
        ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transA.cblas,
            transB.cblas,
            blasint(m),
            blasint(n),
            blasint(k),
            alpha,
            a,
            blasint(lda),
            b,
            blasint(ldb),
            beta,
            c,
            blasint(ldc)
        )
    }

    /// `y = xᵀ · A + beta · y` for a row vector `x` of `m` and a row-major `m × n` matrix `A`
    /// (`y` has `n`): a vector through a matrix, as a projection maps it.
    @inline(__always)
    public static func vectorTimesMatrix(
        m: Int,
        n: Int,
        x: UnsafePointer<Float>,
        a: UnsafePointer<Float>,
        beta: Float = 0,
        y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(CblasRowMajor, CblasTrans, blasint(m), blasint(n), 1, a, blasint(n), x, 1, beta, y, 1)
    }

    /// Sets OpenBLAS's own thread count (process-wide).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// OpenBLAS's own thread count.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// The kernel OpenBLAS picked for this processor (e.g. "Haswell", "Zen"),
    /// which `OPENBLAS_CORETYPE` overrides.
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS's build configuration string (version, threading, targets).
    public static var configuration: String {
        String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces)
    }
}
