import Foundation
import LinearAlgebra

/// Trains `mlp`'s residual block on what an affine map leaves: minimises the mean squared
/// difference between `relu(X·A + c)·B` and `R = Y − (X·W + b)` with Adam (decoupled
/// weight decay), in seeded shuffled mini-batches. `B` starts at zero, so training starts
/// from the affine map and only moves away from it where the held-out pairs agree.
struct ResidualTrainer {
    var hidden: Int
    var learningRate: Double
    var batchSize: Int
    var weightDecay: Double
    var seed: UInt64

    struct Outcome {
        var residual: Projection.Residual
        /// Epochs trained (with validation: up to the best one).
        var epochs: Int
        /// Mean squared error per pair on the validation pairs (nil without).
        var validationError: Double?
    }

    private struct Parameters {
        var a: Matrix
        var c: [Double]
        var b: Matrix
    }

    /// Trains on `x` → `r` for `epochs` epochs; with `validation`, stops once `patience` epochs
    /// pass without a lower validation error and returns the best epoch's parameters.
    func train(x: Matrix, r: Matrix, epochs: Int, validation: (x: Matrix, r: Matrix)?, patience: Int) -> Outcome {
        let (n, o) = (x.columns, r.columns)
        var generator = SplitMix64(seed: seed)
        let scale = (2.0 / Double(n)).squareRoot()
        var parameters = Parameters(
            a: Matrix(
                rows: n,
                columns: hidden,
                values: (0..<(n * hidden)).map { _ in Self.normal(&generator) * scale }
            ),
            c: [Double](repeating: 0, count: hidden),
            b: Matrix(rows: hidden, columns: o)
        )
        var adam = (
            a: Moments(count: n * hidden), c: Moments(count: hidden), b: Moments(count: hidden * o)
        )
        var step = 0
        var best = (
            parameters: parameters, epoch: 0, error: validation.map { error(parameters, $0.x, $0.r) } ?? .infinity
        )
        var order = Array(0..<x.rows)
        for epoch in stride(from: 1, through: epochs, by: 1) {
            order.shuffle(using: &generator)
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let batch = Array(order[start..<min(start + batchSize, order.count)])
                let xb = x.rows(at: batch)
                let rb = r.rows(at: batch)
                let m = Double(batch.count)
                // Forward.
                var z = xb.multiplied(by: parameters.a)
                for i in 0..<z.rows { for j in 0..<hidden { z.values[i * hidden + j] += parameters.c[j] } }
                var h = z
                for i in h.values.indices where h.values[i] < 0 { h.values[i] = 0 }
                var dp = h.multiplied(by: parameters.b)
                for i in dp.values.indices { dp.values[i] = 2 * (dp.values[i] - rb.values[i]) / m }
                // Backward.
                let db = h.multiplied(by: dp, transposingSelf: true)
                var dz = dp.multiplied(by: parameters.b, transposingOther: true)
                for i in dz.values.indices where z.values[i] <= 0 { dz.values[i] = 0 }
                let da = xb.multiplied(by: dz, transposingSelf: true)
                var dc = [Double](repeating: 0, count: hidden)
                for i in 0..<dz.rows { for j in 0..<hidden { dc[j] += dz.values[i * hidden + j] } }
                step += 1
                adam.a.update(
                    &parameters.a.values,
                    gradient: da.values,
                    step: step,
                    rate: learningRate,
                    decay: weightDecay
                )
                adam.c.update(&parameters.c, gradient: dc, step: step, rate: learningRate, decay: 0)
                adam.b.update(
                    &parameters.b.values,
                    gradient: db.values,
                    step: step,
                    rate: learningRate,
                    decay: weightDecay
                )
            }
            guard let validation else { continue }
            let current = error(parameters, validation.x, validation.r)
            if current < best.error {
                best = (parameters, epoch, current)
            } else if epoch - best.epoch >= patience {
                break
            }
        }
        let chosen = validation == nil ? parameters : best.parameters
        return Outcome(
            residual: Projection.Residual(
                hidden: hidden,
                inWeights: chosen.a.values.map(Float.init),
                inBias: chosen.c.map(Float.init),
                outWeights: chosen.b.values.map(Float.init)
            ),
            epochs: validation == nil ? epochs : best.epoch,
            validationError: validation == nil ? nil : best.error
        )
    }

    /// Mean over pairs of ‖relu(X·A + c)·B − R‖².
    private func error(_ parameters: Parameters, _ x: Matrix, _ r: Matrix) -> Double {
        var h = x.multiplied(by: parameters.a)
        for i in 0..<h.rows {
            for j in 0..<hidden { h.values[i * hidden + j] = max(0, h.values[i * hidden + j] + parameters.c[j]) }
        }
        let p = h.multiplied(by: parameters.b)
        var total = 0.0
        for i in p.values.indices { total += (p.values[i] - r.values[i]) * (p.values[i] - r.values[i]) }
        return total / Double(max(x.rows, 1))
    }

    /// Adam's first and second moment estimates of one parameter array.
    private struct Moments {
        var first: [Double]
        var second: [Double]
        init(count: Int) {
            first = [Double](repeating: 0, count: count)
            second = [Double](repeating: 0, count: count)
        }

        mutating func update(_ values: inout [Double], gradient: [Double], step: Int, rate: Double, decay: Double) {
            let (beta1, beta2, epsilon) = (0.9, 0.999, 1e-8)
            let correction1 = 1 - pow(beta1, Double(step))
            let correction2 = 1 - pow(beta2, Double(step))
            for i in values.indices {
                first[i] = beta1 * first[i] + (1 - beta1) * gradient[i]
                second[i] = beta2 * second[i] + (1 - beta2) * gradient[i] * gradient[i]
                let update = (first[i] / correction1) / ((second[i] / correction2).squareRoot() + epsilon)
                values[i] -= rate * (update + decay * values[i])
            }
        }
    }

    /// A standard normal draw (Box–Muller).
    static func normal(_ generator: inout SplitMix64) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &generator)
        let u2 = Double.random(in: 0..<1, using: &generator)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
