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
            method: .affine, inputDimension: from, outputDimension: to, weights: weights,
            bias: (0..<to).map { _ in Float.random(in: -0.01...0.01, using: &generator) }
        )
        let queries = (0..<64).map { _ in (0..<from).map { _ in Float.random(in: -1...1, using: &generator) } }
        var sink: Float = 0
        for query in queries { sink += try projection.apply(query)[0] }  // warm up
        let start = ContinuousClock.now
        for i in 0..<count { sink += try projection.apply(queries[i % queries.count])[0] }
        let elapsed = (ContinuousClock.now - start).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
        print(String(format: "projection %d → %d: %.2f µs per query (%d applications, %.2f s)", from, to, seconds / Double(count) * 1e6, count, seconds))
        if sink.isNaN { print("") }
    }
}
