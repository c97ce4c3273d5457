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
        let seconds = try #require(report["seconds"] as? Double)
        let docsPerSecond = try #require(report["documentsPerSecond"] as? Double)
        #expect(abs(docsPerSecond * seconds - 8) < 1e-6)
        let tokens = try #require(report["tokens"] as? Int)
        #expect(tokens > 8 * 2 && tokens <= 8 * 256)
        #expect((report["sgemmPeakGflopsPerSecond"] as? Double ?? 0) > 0)
        #expect(!(report["openblasCore"] as? String ?? "").isEmpty)
    }
}
