import LinearAlgebra
import Testing

@Suite("Products with few rows")
struct SkinnyGemmTests {
    /// Every shape the vector and scalar paths meet (rows 1…47, outputs not a multiple of 4,
    /// inputs not a multiple of 8, strides wider than the rows) against the naive product, in double.
    /// Every tile edge of both kernels: rows not a multiple of 4, outputs not a multiple of 6 or
    /// 4, inputs not a multiple of 16 or 8, strides wider than the rows.
    static let shapes = [
        (1, 4, 8), (3, 7, 13), (12, 384, 384), (47, 65, 1536), (2, 6, 16), (5, 11, 17), (6, 9, 31), (4, 1, 1),
    ]

    @Test(
        "y += x Wᵀ equals the naive product, with each kernel the CPU has",
        arguments: SkinnyGemm.Kernel.allCases.filter(\.isAvailable),
        Self.shapes.map { "\($0.0)x\($0.1)x\($0.2)" }
    )
    func matchesNaive(kernel: SkinnyGemm.Kernel, shape: String) {
        let sizes = shape.split(separator: "x").map { Int($0)! }
        let (rows, outputs, inputs) = (sizes[0], sizes[1], sizes[2])
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 2001 - 1000) / 1000
        }
        let (ldx, ldw, ldy) = (inputs + 3, inputs + 5, outputs + 2)
        let x = (0..<(rows * ldx)).map { _ in next() }
        let w = (0..<(outputs * ldw)).map { _ in next() }
        var y = (0..<(rows * ldy)).map { _ in next() }
        let before = y
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer { y in
                    SkinnyGemm.multiplyTransposed(
                        kernel: kernel,
                        rows: rows,
                        outputs: outputs,
                        inputs: inputs,
                        x: x.baseAddress!,
                        ldx: ldx,
                        w: w.baseAddress!,
                        ldw: ldw,
                        y: y.baseAddress!,
                        ldy: ldy
                    )
                }
            }
        }
        var worst = 0.0
        for r in 0..<rows {
            for o in 0..<ldy {
                var expected = Double(before[r * ldy + o])
                if o < outputs {
                    for k in 0..<inputs { expected += Double(x[r * ldx + k]) * Double(w[o * ldw + k]) }
                }
                worst = max(worst, abs(Double(y[r * ldy + o]) - expected))
            }
        }
        #expect(worst < 1e-3, "largest difference \(worst)")
    }
}
