/// Transcendental functions for the encoder's hot loops, accurate to a few
/// units in the last place of `Float`.
///
/// They are written as straight-line scalar code (no calls, no branches) so
/// that LLVM vectorises the loops that use them; the standard library's SIMD
/// clamps and conversions are generic and would not be.
enum VectorMath {
    /// `e^x`: Cephes' range reduction `x = n·ln2 + r` and degree-6 polynomial,
    /// `2^n` built in the exponent bits. Inputs below -87 give ≈ 0 (softmax's use).
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let x = min(max(x, -87), 88)
        // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low
        // mantissa bits: n as a float and as an integer, with no conversion.
        let shifted = x * 1.442_695_04 + 12_582_912.0
        let n = shifted - 12_582_912.0
        var r = x - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * (r * r) + r + 1
        let exponent = (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23
        return p * Float(bitPattern: exponent)
    }

    /// `erf(x)`: a rational minimax approximation on [-4, 4] (the one Eigen and
    /// XLA use); beyond it the value stays within 1e-7 of ±1.
    @inline(__always)
    static func erf(_ x: Float) -> Float {
        let x = min(max(x, -4), 4)
        let x2 = x * x
        var p: Float = -2.726_142_3e-10
        p = p * x2 + 2.770_681_4e-08
        p = p * x2 + -2.101_024_0e-06
        p = p * x2 + -5.692_506_4e-05
        p = p * x2 + -7.349_906_3e-04
        p = p * x2 + -2.954_600_0e-03
        p = p * x2 + -1.609_603_3e-02
        p = p * x
        var q: Float = -1.456_607_2e-05
        q = q * x2 + -2.133_740_6e-04
        q = q * x2 + -1.682_827_0e-03
        q = q * x2 + -7.373_329_2e-03
        q = q * x2 + -1.426_474_0e-02
        return p / q
    }
}
