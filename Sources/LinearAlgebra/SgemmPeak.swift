import Foundation

/// Measures what this machine's OpenBLAS `sgemm` reaches on large square
/// matrices: the ceiling that an encoder's GFLOP/s is compared with.
public enum SgemmPeak {
    /// Best GFLOP/s over `repeats` products of `size × size` matrices, using
    /// `threads` OpenBLAS threads. OpenBLAS is set back to one thread afterwards.
    public static func measure(threads: Int, size: Int = 2048, repeats: Int = 4) -> Double {
        let count = size * size
        let a = (0..<count).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
        let b = (0..<count).map { Float(($0 * 104_729) % 1000) / 1000 - 0.5 }
        var c = [Float](repeating: 0, count: count)
        BLAS.setThreads(threads)
        defer { BLAS.setThreads(1) }
        let clock = ContinuousClock()
        var best = Duration.seconds(1_000)
        for _ in 0..<repeats {
            let elapsed = clock.measure {
                a.withUnsafeBufferPointer { a in
                    b.withUnsafeBufferPointer { b in
                        c.withUnsafeMutableBufferPointer { c in
                            BLAS.sgemm(
                                .none,
                                .none,
                                m: size,
                                n: size,
                                k: size,
                                a: a.baseAddress!,
                                lda: size,
                                b: b.baseAddress!,
                                ldb: size,
                                c: c.baseAddress!,
                                ldc: size
                            )
                        }
                    }
                }
            }
            best = min(best, elapsed)
        }
        let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) * 1e-18
        return 2 * Double(size) * Double(size) * Double(size) / seconds / 1e9
    }
}
