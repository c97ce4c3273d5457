import Corpus
import DriftlessTestSupport
import Embedding
import Foundation
import Testing
import Worker

/// `worker embed` as a user runs it: a real process, a real model, real files.
@Suite("worker embed", .serialized)
struct EmbedCommandTests {
    static let goodLines = [
        #"{"_id": "q1", "text": "what causes protein misfolding?"}"#,
        #"{"_id": "d1", "title": "Mitochondria", "text": "The powerhouse of the cell."}"#,
        #"{"_id": "d2", "text": ""}"#,
    ]

    @Test("embeds a file in input order, with token ids, equal to the engine's own output")
    func embedsInOrder() throws {
        let input = try TestResources.temporaryFile("in.jsonl", Array(Self.goodLines.joined(separator: "\n").utf8))
        let output = input + ".out"
        let run = try TestResources.runWorker([
            "embed", "--model", TestResources.minilm, "--input", input, "--output", output, "--tokens",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = try TestResources.jsonLines(URL(fileURLWithPath: output))
        #expect(lines.map { $0["id"] as! String } == ["q1", "d1", "d2"])

        let model = try EmbeddingModel(folder: TestResources.minilm)
        let texts = ["what causes protein misfolding?", "Mitochondria The powerhouse of the cell.", ""]
        let expected = try SentenceEmbedder(model: model, threads: 1).embed(texts)
        for (line, (text, vector)) in zip(lines, zip(texts, expected)) {
            let written = (line["embedding"] as! [Double]).map(Float.init)
            #expect(written.count == 384)
            #expect(zip(written, vector).allSatisfy { abs($0 - $1) <= 1e-6 })
            #expect((line["input_ids"] as! [Int]).map(Int32.init) == model.tokenize(text))
        }
    }

    @Test(
        "--precision on a CPU without VNNI or bfloat16 (forced by ONEDNN_MAX_CPU_ISA=AVX2) takes the fallback paths and stays close to float32",
        arguments: ["bf16", "int8"]
    )
    func precisionFallback(_ precision: String) throws {
        let reference = try TestResources.jsonLines(TestResources.fixture("all-MiniLM-L6-v2.reference.jsonl"))
        // Printable texts only: `worker embed` refuses the fixture's NUL character by design.
        let usable = reference.prefix(60).filter { !($0["text"] as! String).contains("\u{0}") }
        let lines = try usable.map { line in
            String(
                decoding: try JSONSerialization.data(withJSONObject: ["_id": line["id"]!, "text": line["text"]!]),
                as: UTF8.self
            )
        }
        let input = try TestResources.temporaryFile("in.jsonl", Array(lines.joined(separator: "\n").utf8))
        let arguments = [
            "embed", "--model", TestResources.minilm, "--input", input, "--output", input + ".out", "--precision",
            precision,
        ]
        let run = try TestResources.run(
            TestResources.workerExecutable,
            arguments,
            environment: ["ONEDNN_MAX_CPU_ISA": "AVX2"]
        )
        #expect(run.status == 0, "\(run.stderr)")
        // The log names the fallback kernel.
        #expect(run.stderr.contains(precision == "bf16" ? "bf16-rounded sgemm" : "7-bit inputs"), "\(run.stderr)")
        let written = try TestResources.jsonLines(URL(fileURLWithPath: input + ".out"))
        #expect(written.count == usable.count)
        var worst: Float = 1
        var largestDifference: Float = 0
        for (line, out) in zip(usable, written) {
            let comparison = VectorComparison(
                (out["embedding"] as! [Double]).map(Float.init),
                (line["embedding"] as! [Double]).map(Float.init)
            )
            worst = min(worst, comparison.cosine)
            largestDifference = max(largestDifference, comparison.maximumDifference)
        }
        print("fallback \(precision): worst cosine to fp32 \(worst) on \(usable.count) texts")
        #expect(worst >= (precision == "bf16" ? 0.9995 : 0.95))
        #expect(largestDifference > 1e-4, "vectors equal float32's: --precision \(precision) was not applied")
    }

    @Test("--dimension keeps the first D dimensions, re-normalised; beyond the model it is refused by name")
    func matryoshka() throws {
        let decoder = TestResources.fixture("tiny-qwen3-embedding").path
        let input = try TestResources.temporaryFile("in.jsonl", Array(Self.goodLines.joined(separator: "\n").utf8))
        let full = try TestResources.runWorker([
            "embed", "--model", decoder, "--input", input, "--output", input + ".64",
        ])
        let cut = try TestResources.runWorker([
            "embed", "--model", decoder, "--input", input, "--output", input + ".16", "--dimension", "16",
        ])
        #expect(full.status == 0 && cut.status == 0, "\(full.stderr)\(cut.stderr)")
        let fullVectors = try TestResources.jsonLines(URL(fileURLWithPath: input + ".64")).map {
            ($0["embedding"] as! [Double]).map(Float.init)
        }
        let cutVectors = try TestResources.jsonLines(URL(fileURLWithPath: input + ".16")).map {
            ($0["embedding"] as! [Double]).map(Float.init)
        }
        #expect(fullVectors.count == 3 && cutVectors.count == 3)
        for (whole, short) in zip(fullVectors, cutVectors) {
            let prefix = Array(whole.prefix(16))
            let norm = prefix.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(whole.count == 64 && short.count == 16)
            #expect(zip(short, prefix).allSatisfy { abs($0 - $1 / norm) <= 1e-6 }, "\(short) against \(prefix)")
        }
        let tooLong = try TestResources.runWorker([
            "embed", "--model", decoder, "--input", input, "--output", input + ".65", "--dimension", "65",
        ])
        #expect(tooLong.status != 0)
        #expect(tooLong.stderr.contains("'dimension' (65) must be 1 to the model's 64 dimensions"), "\(tooLong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: input + ".65"))
    }

    @Test("invalid JSON stops before any work, naming the line; exit code 65")
    func invalidJSON() throws {
        let lines = [Self.goodLines[0], #"{"_id": "broken", "text": "#, Self.goodLines[1]]
        let input = try TestResources.temporaryFile("in.jsonl", Array(lines.joined(separator: "\n").utf8))
        let output = input + ".out"
        let run = try TestResources.runWorker([
            "embed", "--model", TestResources.minilm, "--input", input, "--output", output,
        ])
        #expect(run.status == 65)
        #expect(run.stderr.contains("\(input):2: invalid JSON"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("invalid UTF-8 names the line; --skip-invalid embeds the rest")
    func invalidUTF8() throws {
        var bytes = Array((Self.goodLines[0] + "\n").utf8)
        bytes += Array(#"{"_id": "bad", "text": "caf"#.utf8) + [0xE9] + Array("\"}\n".utf8)
        bytes += Array(Self.goodLines[1].utf8)
        let input = try TestResources.temporaryFile("in.jsonl", bytes)
        let output = input + ".out"
        let refused = try TestResources.runWorker([
            "embed", "--model", TestResources.minilm, "--input", input, "--output", output,
        ])
        #expect(refused.status == 65)
        #expect(refused.stderr.contains("\(input):2: invalid UTF-8"), "\(refused.stderr)")

        let skipped = try TestResources.runWorker(
            ["embed", "--model", TestResources.minilm, "--input", input, "--output", output, "--skip-invalid"])
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(skipped.stderr.contains("\(input):2: invalid UTF-8"))
        #expect(try TestResources.jsonLines(URL(fileURLWithPath: output)).map { $0["id"] as! String } == ["q1", "d1"])
    }

    @Test("a missing model folder is named; exit code 1")
    func missingModel() throws {
        let input = try TestResources.temporaryFile("in.jsonl", Array(Self.goodLines[0].utf8))
        let run = try TestResources.runWorker([
            "embed", "--model", "/nonexistent/model", "--input", input, "--output", input + ".out",
        ])
        #expect(run.status == 1)
        #expect(run.stderr.contains("model folder not found: /nonexistent/model"))
    }

    @Test("bad flags are usage errors")
    func usage() throws {
        let run = try TestResources.runWorker([
            "embed", "--model", TestResources.minilm, "--input", "x", "--output", "y", "--threads", "0",
        ])
        #expect(run.status == 64)
        #expect(run.stderr.contains("--threads must be between 1 and 256"))
    }

    @Test("the library job reports what it embedded and skipped")
    func libraryJob() throws {
        let lines = Self.goodLines + ["not json"]
        let input = try TestResources.temporaryFile("in.jsonl", Array(lines.joined(separator: "\n").utf8))
        var job = EmbedFileJob(input: input, output: input + ".out", threads: 2)
        job.skipInvalid = true
        let model = try EmbeddingModel(folder: TestResources.minilm)
        var reported: [(Int, Int)] = []
        let summary = try job.run(model: model, logger: .init(label: "test")) { reported.append(($0, $1)) }
        #expect(summary.embedded == 3)
        #expect(summary.skipped == 1)
        #expect(reported.last.map { [$0.0, $0.1] } == [3, 3])
    }

    @Test("an output naming the input file is refused and the input kept; a missing input is exit code 1")
    func outputIsInput() throws {
        let text = Self.goodLines.joined(separator: "\n")
        let input = try TestResources.temporaryFile("in.jsonl", Array(text.utf8))
        let run = try TestResources.runWorker([
            "embed", "--model", TestResources.minilm, "--input", input, "--output", input,
        ])
        #expect(run.status == 1)
        #expect(run.stderr.contains("is the input file too"), "\(run.stderr)")
        #expect(try String(contentsOfFile: input, encoding: .utf8) == text)

        let missing = try TestResources.runWorker(
            ["embed", "--model", TestResources.minilm, "--input", input + ".nope", "--output", input + ".out"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("\(input).nope: no such file"))
    }
}
