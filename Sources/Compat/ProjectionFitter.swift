import LinearAlgebra

/// Fits projections from paired embeddings of the same texts: `new[i]` by the new model,
/// `old[i]` by the old one. The linear algebra runs in double precision through
/// OpenBLAS and LAPACK; fits of thousands of pairs take well under a second.
public struct ProjectionFitter {
    public struct Options: Sendable {
        /// Share of the pairs held out to choose λ (affine, lowrank, mlp), to stop mlp's training and to score methods (`auto`).
        public var heldOutFraction = 0.2
        /// Seeds the split into fitting and held-out pairs.
        public var seed: UInt64 = 42
        /// The rank of `lowrank`.
        public var rank = 64
        /// Procrustes: scale each output dimension after the rotation.
        public var scaling = false
        /// Ridge λ candidates, relative to the mean squared norm of the centred inputs per dimension.
        public var ridgeGrid: [Double] = [1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1]
        /// mlp: hidden units of the residual block, Adam's step size, pairs per step, decoupled weight
        /// decay, the most epochs, and epochs without a better held-out error before stopping.
        public var hiddenUnits = 256
        public var learningRate = 1e-3
        public var batchSize = 64
        public var weightDecay = 1e-4
        public var maxEpochs = 200
        public var patience = 10

        public init() {}
    }

    public let new: Matrix
    public let old: Matrix
    public let options: Options
    /// Row indices of the pairs used for fitting and those held out, after a seeded shuffle.
    let fitting: [Int]
    let heldOut: [Int]

    public init(new: [[Float]], old: [[Float]], options: Options = Options()) throws(CompatError) {
        guard new.count == old.count else { throw .mismatchedPairs("\(new.count) new vectors, \(old.count) old ones") }
        guard let n = new.first?.count, let o = old.first?.count, n > 0, o > 0 else {
            throw .tooFewPairs(have: 0, need: 2)
        }
        if let bad = new.firstIndex(where: { $0.count != n }) {
            throw .mismatchedPairs("new vector \(bad) has \(new[bad].count) values, not \(n)")
        }
        if let bad = old.firstIndex(where: { $0.count != o }) {
            throw .mismatchedPairs("old vector \(bad) has \(old[bad].count) values, not \(o)")
        }
        guard new.count >= 4 else { throw .tooFewPairs(have: new.count, need: 4) }
        guard options.heldOutFraction > 0, options.heldOutFraction < 1 else {
            throw .invalidSetting("the held-out fraction must be between 0 and 1, not \(options.heldOutFraction)")
        }
        self.new = Matrix(rowVectors: new)
        self.old = Matrix(rowVectors: old)
        self.options = options
        var order = Array(0..<new.count)
        var generator = SplitMix64(seed: options.seed)
        order.shuffle(using: &generator)
        let held = max(1, Int((Double(new.count) * options.heldOutFraction).rounded()))
        heldOut = Array(order[..<held])
        fitting = Array(order[held...])
    }

    public var inputDimension: Int { new.columns }
    public var outputDimension: Int { old.columns }

    /// Fits `method` on all pairs (λ for affine and lowrank chosen on the held-out ones first).
    public func fit(_ method: ProjectionMethod) throws(CompatError) -> Projection {
        var projection = try fit(method, rows: Array(0..<new.rows), lambda: try chooseLambda(for: method))
        projection.details["held_out_cosine"] = try heldOutCosine(method)
        return projection
    }

    /// Mean cosine between held-out old vectors and their new vectors projected by `method`
    /// fitted on the other pairs: how well the map generalises.
    public func heldOutCosine(_ method: ProjectionMethod) throws(CompatError) -> Double {
        let projection = try fit(method, rows: fitting, lambda: try chooseLambda(for: method))
        return try meanCosine(projection, rows: heldOut)
    }

    /// Every method that applies to these dimensions, scored by `score` (higher is better;
    /// default: held-out cosine), and the best one fitted on all pairs.
    public func auto(
        score: ((ProjectionMethod, Projection) throws -> Double)? = nil
    ) throws(CompatError) -> (chosen: Projection, scores: [(method: ProjectionMethod, score: Double)]) {
        var scores: [(method: ProjectionMethod, score: Double)] = []
        for method in ProjectionMethod.allCases where method != .drift || inputDimension == outputDimension {
            if method == .lowrank && options.rank >= min(inputDimension, outputDimension) { continue }
            let value: Double
            if let score {
                let projection = try fit(method)
                do { value = try score(method, projection) } catch { throw .numerical("scoring \(method): \(error)") }
            } else {
                value = try heldOutCosine(method)
            }
            scores.append((method, value))
        }
        // In order of simplicity: a more elaborate method is chosen only when it scores higher, not as high.
        var best: (method: ProjectionMethod, score: Double)?
        for entry in scores where best == nil || entry.score > best!.score + 1e-9 { best = entry }
        guard let best else { throw .invalidSetting("no method applies") }
        var chosen = try fit(best.method)
        for entry in scores { chosen.details["auto_score_\(entry.method)"] = entry.score }
        return (chosen, scores)
    }

    // MARK: Fitting on a subset

    func fit(_ method: ProjectionMethod, rows: [Int], lambda: Double) throws(CompatError) -> Projection {
        let x = new.rows(at: rows)
        let y = old.rows(at: rows)
        let (meanX, meanY) = (x.columnMeans, y.columnMeans)
        let (xc, yc) = (x.subtractingFromRows(meanX), y.subtractingFromRows(meanY))
        let weights: Matrix?
        var details: [String: Double] = ["pairs": Double(rows.count)]
        switch method {
        case .drift:
            guard inputDimension == outputDimension else {
                throw .dimensionsDiffer(method: "drift", input: inputDimension, output: outputDimension)
            }
            weights = nil
        case .procrustes:
            weights = try procrustes(xc, yc)
        case .affine, .mlp:
            weights = try ridge(xc, yc, lambda: lambda)
            details["lambda"] = lambda
        case .lowrank:
            let rank = options.rank
            guard rank >= 1, rank <= min(inputDimension, outputDimension) else {
                throw .invalidSetting(
                    "lowrank's rank must be between 1 and \(min(inputDimension, outputDimension)), not \(rank)"
                )
            }
            weights = try reducedRank(try ridge(xc, yc, lambda: lambda), xc, rank: rank)
            details["lambda"] = lambda
            details["rank"] = Double(rank)
        }
        // b = mean(old) − mean(new)·W, so that the means map onto each other.
        var bias = meanY
        if let weights {
            let mapped = Matrix(rows: 1, columns: inputDimension, values: meanX).multiplied(by: weights)
            for j in 0..<outputDimension { bias[j] -= mapped.values[j] }
        } else {
            for j in 0..<outputDimension { bias[j] -= meanX[j] }
        }
        let affine = Projection(
            method: method,
            inputDimension: inputDimension,
            outputDimension: outputDimension,
            weights: weights.map { $0.values.map(Float.init) },
            bias: bias.map(Float.init),
            details: details
        )
        guard method == .mlp else { return affine }
        // The residual block, on what the affine map leaves. Fitted on the fitting pairs, it stops early on
        // the held-out ones; fitted on every pair, it trains as many epochs as that run found best.
        let trainer = ResidualTrainer(
            hidden: options.hiddenUnits,
            learningRate: options.learningRate,
            batchSize: options.batchSize,
            weightDecay: options.weightDecay,
            seed: options.seed
        )
        let leftover = { (rows: [Int]) throws(CompatError) -> (x: Matrix, r: Matrix) in
            let x = self.new.rows(at: rows)
            var r = self.old.rows(at: rows)
            for (k, i) in rows.enumerated() {
                let mapped = try affine.map(self.new.row(i).map(Float.init))
                for j in 0..<self.outputDimension { r.values[k * self.outputDimension + j] -= Double(mapped[j]) }
            }
            return (x, r)
        }
        let training = try leftover(rows)
        var outcome: ResidualTrainer.Outcome
        if rows == fitting {
            outcome = trainer.train(
                x: training.x,
                r: training.r,
                epochs: options.maxEpochs,
                validation: try leftover(heldOut),
                patience: options.patience
            )
        } else {
            let epochs = Int(try self.fit(.mlp, rows: fitting, lambda: lambda).details["epochs"] ?? 0)
            outcome = trainer.train(
                x: training.x,
                r: training.r,
                epochs: epochs,
                validation: nil,
                patience: options.patience
            )
        }
        details["hidden_units"] = Double(options.hiddenUnits)
        details["epochs"] = Double(outcome.epochs)
        if let error = outcome.validationError { details["held_out_residual_error"] = error }
        // No epoch beat the affine map on the held-out pairs: the residual block would only add noise.
        return Projection(
            method: method,
            inputDimension: inputDimension,
            outputDimension: outputDimension,
            weights: affine.weights,
            bias: affine.bias,
            residual: outcome.epochs > 0 ? outcome.residual : nil,
            details: details
        )
    }

    /// The (semi-)orthogonal W minimising ‖Xc·W − Yc‖: `U·Vᵀ` from the SVD of `Xcᵀ·Yc`.
    func procrustes(_ xc: Matrix, _ yc: Matrix) throws(CompatError) -> Matrix {
        let svd: (u: Matrix, s: [Double], vt: Matrix)
        do { svd = try xc.multiplied(by: yc, transposingSelf: true).singularValueDecomposition() } catch {
            throw .numerical("\(error)")
        }
        var w = svd.u.multiplied(by: svd.vt)
        if options.scaling {
            let rotated = xc.multiplied(by: w)
            for j in 0..<outputDimension {
                var (dot, square) = (0.0, 0.0)
                for i in 0..<rotated.rows {
                    dot += rotated[i, j] * yc[i, j]
                    square += rotated[i, j] * rotated[i, j]
                }
                let scale = square > 0 ? dot / square : 1
                for i in 0..<inputDimension { w[i, j] *= scale }
            }
        }
        return w
    }

    /// Ridge regression: `(Xcᵀ·Xc + λ·s·I)⁻¹ · Xcᵀ·Yc`, with `s` the mean squared norm per input dimension.
    func ridge(_ xc: Matrix, _ yc: Matrix, lambda: Double) throws(CompatError) -> Matrix {
        var gram = xc.multiplied(by: xc, transposingSelf: true)
        let scale = max((0..<inputDimension).reduce(0.0) { $0 + gram[$1, $1] } / Double(inputDimension), 1e-12)
        for i in 0..<inputDimension { gram[i, i] += lambda * scale }
        do { return try gram.solvingSymmetricPositiveDefinite(xc.multiplied(by: yc, transposingSelf: true)) } catch {
            throw .numerical("ridge regression with λ \(lambda): \(error)")
        }
    }

    /// W restricted to the `rank` leading directions of its fitted outputs: `W·V_r·V_rᵀ`.
    func reducedRank(_ w: Matrix, _ xc: Matrix, rank: Int) throws(CompatError) -> Matrix {
        let vt: Matrix
        do { vt = try xc.multiplied(by: w).singularValueDecomposition().vt } catch { throw .numerical("\(error)") }
        let leading = vt.rows(0..<rank)  // rank × o
        return w.multiplied(by: leading, transposingOther: true).multiplied(by: leading)
    }

    /// The ridge λ with the smallest held-out squared error (affine, lowrank, mlp's affine part); 0 for the others.
    func chooseLambda(for method: ProjectionMethod) throws(CompatError) -> Double {
        guard method == .affine || method == .lowrank || method == .mlp else { return 0 }
        var best = (lambda: options.ridgeGrid.first ?? 1e-6, error: Double.infinity)
        for lambda in options.ridgeGrid {
            let projection = try fit(.affine, rows: fitting, lambda: lambda)
            let error = try squaredError(projection, rows: heldOut)
            if error < best.error { best = (lambda, error) }
        }
        return best.lambda
    }

    func squaredError(_ projection: Projection, rows: [Int]) throws(CompatError) -> Double {
        var total = 0.0
        for i in rows {
            let mapped = try projection.map(new.row(i).map(Float.init))
            for (j, value) in mapped.enumerated() { total += pow2(Double(value) - old[i, j]) }
        }
        return total / Double(max(rows.count, 1))
    }

    func meanCosine(_ projection: Projection, rows: [Int]) throws(CompatError) -> Double {
        var total = 0.0
        for i in rows {
            let mapped = try projection.map(new.row(i).map(Float.init)).map(Double.init)
            let target = Array(old.row(i))
            let dot = zip(mapped, target).reduce(0) { $0 + $1.0 * $1.1 }
            let norms = (mapped.reduce(0) { $0 + $1 * $1 } * target.reduce(0) { $0 + $1 * $1 }).squareRoot()
            total += norms > 0 ? dot / norms : 0
        }
        return total / Double(max(rows.count, 1))
    }

    private func pow2(_ x: Double) -> Double { x * x }
}

/// A small seeded generator (SplitMix64), so that fits are repeatable.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
