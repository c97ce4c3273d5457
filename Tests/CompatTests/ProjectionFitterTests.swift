import Compat
import Foundation
import LinearAlgebra
import Testing

/// Synthetic pairs with a known transform: each method must recover it.
@Suite("ProjectionFitter")
struct ProjectionFitterTests {
    /// `count` vectors of `dimension` normally distributed values, seeded.
    static func gaussian(_ count: Int, _ dimension: Int, seed: UInt64) -> [[Float]] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            (0..<dimension).map { _ in
                // Box–Muller
                let u1 = Double.random(in: Double.ulpOfOne..<1, using: &generator)
                let u2 = Double.random(in: 0..<1, using: &generator)
                return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
            }
        }
    }

    /// A random `rows × columns` matrix with orthonormal columns (rows ≥ columns) or rows.
    static func orthonormal(_ rows: Int, _ columns: Int, seed: UInt64) throws -> Matrix {
        let g = Matrix(rowVectors: gaussian(rows, columns, seed: seed))
        let svd = try g.singularValueDecomposition()
        return svd.u.multiplied(by: svd.vt)
    }

    /// `x·W + t` for each row.
    static func transform(_ x: [[Float]], _ w: Matrix?, _ t: [Double]) -> [[Float]] {
        x.map { row in
            let mapped =
                w.map { Matrix(rows: 1, columns: row.count, values: row.map(Double.init)).multiplied(by: $0).values }
                ?? row.map(Double.init)
            return zip(mapped, t).map { Float($0 + $1) }
        }
    }

    /// Largest difference between the projection's map and the true transform on fresh points.
    static func worstError(_ projection: Projection, _ w: Matrix?, _ t: [Double], inputDimension: Int) throws -> Double
    {
        let probes = gaussian(50, inputDimension, seed: 999)
        let truth = transform(probes, w, t)
        var worst = 0.0
        for (probe, expected) in zip(probes, truth) {
            let mapped = try projection.map(probe)
            for (a, b) in zip(mapped, expected) { worst = max(worst, Double(abs(a - b))) }
        }
        return worst
    }

    @Test("procrustes and affine recover a rotation plus a translation to 1e-4")
    func rotationAndTranslation() throws {
        let r = try Self.orthonormal(32, 32, seed: 1)
        let t = (0..<32).map { Double($0) / 64 - 0.25 }
        let x = Self.gaussian(400, 32, seed: 2)
        let fitter = try ProjectionFitter(new: x, old: Self.transform(x, r, t))
        for method in [ProjectionMethod.procrustes, .affine] {
            let projection = try fitter.fit(method)
            #expect(try Self.worstError(projection, r, t, inputDimension: 32) < 1e-4, "\(method)")
            #expect(projection.details["held_out_cosine"]! > 0.99999, "\(method): \(projection.details)")
        }
        // Drift cannot rotate: it is measurably wrong here.
        #expect(try Self.worstError(try fitter.fit(.drift), r, t, inputDimension: 32) > 0.1)
    }

    @Test("drift recovers a translation")
    func translation() throws {
        let t = (0..<16).map { Double($0 % 5) / 10 - 0.2 }
        let x = Self.gaussian(200, 16, seed: 3)
        let projection = try ProjectionFitter(new: x, old: Self.transform(x, nil, t)).fit(.drift)
        #expect(projection.weights == nil)
        #expect(try Self.worstError(projection, nil, t, inputDimension: 16) < 1e-5)
    }

    @Test("procrustes recovers a semi-orthogonal map between dimensions that differ")
    func semiOrthogonal() throws {
        let q = try Self.orthonormal(48, 24, seed: 4)  // 48 → 24, orthonormal columns
        let t = Array(repeating: 0.1, count: 24)
        // With n ≠ o the SVD solution maximises tr(Wᵀ·Xcᵀ·Yc), which minimises the error exactly
        // when the inputs are isotropic (‖Xc·W‖ then does not depend on W): whiten the sample.
        let raw = Matrix(rowVectors: Self.gaussian(400, 48, seed: 5))
        let whitened = try raw.subtractingFromRows(raw.columnMeans).singularValueDecomposition().u
        let x = (0..<400).map { whitened.row($0).map { Float($0 * 20) } }
        let y = Self.transform(x, q, t)
        let projection = try ProjectionFitter(new: x, old: y).fit(.procrustes)
        #expect(projection.inputDimension == 48 && projection.outputDimension == 24)
        #expect(try Self.worstError(projection, q, t, inputDimension: 48) < 1e-4)
        #expect(throws: CompatError.dimensionsDiffer(method: "drift", input: 48, output: 24)) {
            try ProjectionFitter(new: x, old: y).fit(.drift)
        }
    }

    @Test("lowrank recovers a rank-r map")
    func rankR() throws {
        let a = Matrix(rowVectors: Self.gaussian(32, 4, seed: 6))
        let b = Matrix(rowVectors: Self.gaussian(4, 24, seed: 7))
        let w = a.multiplied(by: b)  // 32 × 24, rank 4
        let t = Array(repeating: -0.05, count: 24)
        let x = Self.gaussian(400, 32, seed: 8)
        var options = ProjectionFitter.Options()
        options.rank = 4
        let fitter = try ProjectionFitter(new: x, old: Self.transform(x, w, t), options: options)
        let projection = try fitter.fit(.lowrank)
        #expect(try Self.worstError(projection, w, t, inputDimension: 32) < 1e-4)
        // Its weights really have rank 4: the fifth singular value vanishes.
        let s = try Matrix(rows: 32, columns: 24, values: projection.weights!.map(Double.init))
            .singularValueDecomposition().s
        #expect(s[4] < 1e-4 * s[0], "\(s.prefix(6))")
        // Rank 2 cannot fit it.
        options.rank = 2
        let tooLow = try ProjectionFitter(new: x, old: Self.transform(x, w, t), options: options).fit(.lowrank)
        #expect(try Self.worstError(tooLow, w, t, inputDimension: 32) > 0.1)
    }

    @Test("auto picks a method that fits a rotation, and reports every score")
    func autoChoice() throws {
        let r = try Self.orthonormal(24, 24, seed: 9)
        let t = Array(repeating: 0.2, count: 24)
        let x = Self.gaussian(300, 24, seed: 10)
        var options = ProjectionFitter.Options()
        options.rank = 8
        let (chosen, scores) = try ProjectionFitter(new: x, old: Self.transform(x, r, t), options: options).auto()
        #expect(Set(scores.map(\.method)) == [.drift, .procrustes, .affine, .lowrank, .mlp])
        #expect(chosen.method == .procrustes || chosen.method == .affine, "\(scores)")
        #expect(try Self.worstError(chosen, r, t, inputDimension: 24) < 1e-4)
        #expect(scores.first { $0.method == .drift }!.score < 0.99)
    }

    @Test("mlp fits a map with a nonlinear part that affine cannot; stored, loaded and served in half precision")
    func residualMLP() throws {
        let (n, o) = (16, 12)
        let w = Matrix(rowVectors: Self.gaussian(n, o, seed: 20).map { $0.map { $0 * 0.3 } })
        let a0 = Matrix(rowVectors: Self.gaussian(n, 6, seed: 21))
        let b0 = Matrix(rowVectors: Self.gaussian(6, o, seed: 22).map { $0.map { $0 * 0.5 } })
        let t = (0..<o).map { Double($0) / 24 }
        /// `x·W + t + relu(x·A0)·B0`: a known residual MLP on top of an affine map.
        func truth(_ x: [[Float]]) -> [[Float]] {
            let linear = Self.transform(x, w, t)
            return zip(x, linear).map { row, base in
                var hidden = Matrix(rows: 1, columns: n, values: row.map(Double.init)).multiplied(by: a0)
                for i in hidden.values.indices { hidden.values[i] = max(0, hidden.values[i]) }
                let added = hidden.multiplied(by: b0).values
                return zip(base, added).map { $0 + Float($1) }
            }
        }
        let x = Self.gaussian(1500, n, seed: 23)
        var options = ProjectionFitter.Options()
        options.hiddenUnits = 32
        options.learningRate = 3e-3
        let fitter = try ProjectionFitter(new: x, old: truth(x), options: options)
        let mlp = try fitter.fit(.mlp)
        let affine = try fitter.fit(.affine)
        let probes = Self.gaussian(200, n, seed: 24)
        let expected = truth(probes)
        func meanSquaredError(_ projection: Projection) throws -> Double {
            var total = 0.0
            for (probe, target) in zip(probes, expected) {
                for (a, b) in zip(try projection.map(probe), target) { total += Double((a - b) * (a - b)) }
            }
            return total / Double(probes.count)
        }
        let (mlpError, affineError) = (try meanSquaredError(mlp), try meanSquaredError(affine))
        #expect(mlp.residual?.hidden == 32 && (mlp.details["epochs"] ?? 0) >= 1, "\(mlp.details)")
        #expect(mlpError < 0.25 * affineError, "mlp \(mlpError), affine \(affineError), \(mlp.details)")
        // On a purely linear map the residual block learns (almost) nothing: as good as affine.
        let r = try Self.orthonormal(n, n, seed: 25)
        let linear = try ProjectionFitter(
            new: x,
            old: Self.transform(x, r, Array(repeating: 0.1, count: n)),
            options: options
        )
        #expect(try Self.worstError(try linear.fit(.mlp), r, Array(repeating: 0.1, count: n), inputDimension: n) < 1e-3)
        // Stored and loaded unchanged; half precision serves it to rounding.
        let loaded = try Projection(decoding: mlp.encoded())
        #expect(loaded == mlp)
        let half = HalfPrecisionProjection(loaded)
        for probe in probes.prefix(20) {
            let difference = zip(try mlp.apply(probe), try half.apply(probe)).map { abs($0 - $1) }.max() ?? 1
            #expect(difference < 2e-3)
        }
    }

    @Test("bad pairs are refused with what is wrong")
    func badInput() throws {
        let x = Self.gaussian(10, 8, seed: 11)
        #expect(throws: CompatError.mismatchedPairs("10 new vectors, 9 old ones")) {
            try ProjectionFitter(new: x, old: Array(x.dropLast()))
        }
        #expect(throws: CompatError.mismatchedPairs("old vector 3 has 7 values, not 8")) {
            var y = x
            y[3].removeLast()
            return try ProjectionFitter(new: x, old: y)
        }
        #expect(throws: CompatError.tooFewPairs(have: 3, need: 4)) {
            try ProjectionFitter(new: Array(x.prefix(3)), old: Array(x.prefix(3)))
        }
    }
}

@Suite("Projection")
struct ProjectionTests {
    @Test("stored and loaded unchanged; applying re-normalises; a wrong dimension is refused")
    func roundTrip() throws {
        let x = ProjectionFitterTests.gaussian(100, 12, seed: 12)
        let y = ProjectionFitterTests.gaussian(100, 6, seed: 13)
        let projection = try ProjectionFitter(new: x, old: y).fit(.affine)
        let loaded = try Projection(decoding: projection.encoded())
        #expect(loaded == projection)
        let applied = try loaded.apply(x[0])
        #expect(abs(applied.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        #expect(throws: CompatError.wrongDimension(expected: 12, got: 6)) { try loaded.apply(y[0]) }
        #expect(throws: CompatError.corrupt("not a Driftless projection (no DLPROJ1 header)")) {
            try Projection(decoding: Data("hello".utf8))
        }
        var truncated = projection.encoded()
        truncated.removeLast(4)
        #expect(throws: CompatError.self) { try Projection(decoding: truncated) }
    }
}
