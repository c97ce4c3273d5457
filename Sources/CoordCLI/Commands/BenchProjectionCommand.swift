import ArgumentParser
import Compat
import Foundation
import LinearAlgebra

struct BenchProjectionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-projection",
        abstract: "Time applying a projection to one query vector (map and re-normalisation), as serving does."
    )

    @Option(name: .long, help: "The new model's dimension.") var from = 768
    @Option(name: .long, help: "The old model's dimension.") var to = 384
    @Option(name: .long, help: "Applications timed.") var count = 20_000
    @Option(name: .long, help: "OpenBLAS threads (serving runs 1).") var threads = 1

    func run() throws {
        // As when serving: OpenBLAS single-threaded (a matrix–vector product this small only loses by waking threads).
        BLAS.setThreads(threads)
        var generator = SplitMix64(seed: 7)
        let weights = (0..<(from * to)).map { _ in Float.random(in: -0.05...0.05, using: &generator) }
        let projection = Projection(
            method: .affine,
            inputDimension: from,
            outputDimension: to,
            weights: weights,
            bias: (0..<to).map { _ in Float.random(in: -0.01...0.01, using: &generator) }
        )
        let queries = (0..<64).map { _ in (0..<from).map { _ in Float.random(in: -1...1, using: &generator) } }
        let half = HalfPrecisionProjection(projection)
        var sink: Float = 0
        /// Seconds per application of `apply`, after a warm-up.
        func time(_ apply: ([Float]) throws -> [Float]) throws -> Double {
            for query in queries { sink += try apply(query)[0] }
            let start = ContinuousClock.now
            for i in 0..<count { sink += try apply(queries[i % queries.count])[0] }
            let elapsed = (ContinuousClock.now - start).components
            return (Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18) / Double(count)
        }
        let single = try time { try projection.apply($0) }
        let halved = try time { try half.apply($0) }
        var largest: Float = 0
        for query in queries {
            let difference = zip(try projection.apply(query), try half.apply(query)).map { abs($0 - $1) }.max() ?? 0
            largest = max(largest, difference)
        }
        print(String(format: "projection %d → %d, %d applications each:", from, to, count))
        print(
            String(
                format: "  float32 weights, OpenBLAS sgemv (%d thread%@): %.2f µs per query",
                threads,
                threads == 1 ? "" : "s",
                single * 1e6
            )
        )
        print(
            String(
                format:
                    "  half-precision weights, F16C/FMA kernel%@ (serving): %.2f µs per query; largest difference %.1e",
                HalfPrecisionProjection.accelerated ? "" : " (portable loop: built without F16C)",
                halved * 1e6,
                largest
            )
        )
        if sink.isNaN { print("") }
    }
}
