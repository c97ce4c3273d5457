import DriftlessTestSupport
import Foundation
import Testing

/// `worker bench --json` reports consistent figures (the speed goals themselves live in BENCHMARKS.md).
@Suite("worker bench", .serialized)
struct BenchCommandTests {
    @Test("reports docs/s, tokens/s, GFLOP/s, the sgemm peak and the OpenBLAS kernel")
    func report() throws {
        let corpus = TestResources.shared.appendingPathComponent("data/scifact/corpus.jsonl").path
        let run = try TestResources.runWorker(
            ["bench", "--model", TestResources.minilm, "--input", corpus, "--limit", "8", "--threads", "1", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        #expect(report["documents"] as? Int == 8)
        let tokens = try #require(report["tokens"] as? Int)
        #expect(tokens > 8 * 2 && tokens <= 8 * 256)
        // The FLOP count follows from the token counts: 2 × 10.6M matrix weights per token,
        // plus attention, which is under half of that at these lengths.
        let gflop = try #require(report["gflop"] as? Double)
        let linear = 2 * 10.6e6 * Double(tokens) / 1e9
        #expect(gflop >= linear * 0.99 && gflop <= linear * 1.5)
        let gflops = try #require(report["gflopsPerSecond"] as? Double)
        let peak = try #require(report["sgemmPeakGflopsPerSecond"] as? Double)
        #expect(peak > 0)
        #expect(abs((report["fractionOfSgemmPeak"] as? Double ?? 0) - gflops / peak) < 1e-9)
        #expect(!(report["openblasCore"] as? String ?? "").isEmpty)
    }
}
