import Corpus
import Embedding
import Foundation
import Retrieval
import Testing
import Wire

/// Every input in `Tests/Fuzz/seeds/T` and `Tests/Fuzz/regressions/T` (crashes `Ops/fuzz.sh`
/// found, then fixed) goes through what fuzz target T exercises: none may crash the process.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    /// The inputs of one target, seeds first.
    func inputs(_ target: String) throws -> [(name: String, data: Data)] {
        var found: [(String, Data)] = []
        for kind in ["seeds", "regressions"] {
            let folder = Self.fuzz.appendingPathComponent(kind).appendingPathComponent(target)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                found.append(("\(kind)/\(name)", try Data(contentsOf: folder.appendingPathComponent(name))))
            }
        }
        #expect(!found.isEmpty, "no inputs for \(target) in \(Self.fuzz.path)")
        return found
    }

    func scratch(_ name: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent(name)
    }

    @Test("wire: every message kind decodes or is refused; the seeds decode")
    func wire() throws {
        for (name, data) in try inputs("wire") {
            let decoded = [
                (try? WireProtocol.decode(WorkerMessage.self, from: data)) != nil,
                (try? WireProtocol.decode(ClientRequest.self, from: data)) != nil,
                (try? WireProtocol.decode(CoordinatorMessage.self, from: data)) != nil,
                (try? WireProtocol.decode(ClientReply.self, from: data)) != nil,
            ]
            if name.hasPrefix("seeds/") { #expect(decoded.contains(true), "seed \(name) decodes as nothing") }
        }
    }

    @Test("corpus line: parsed or refused with a line-naming error")
    func corpusLine() throws {
        for (name, data) in try inputs("corpus-line") {
            do {
                let record = try Document.parse(data, path: "fuzz.jsonl", line: 1)
                #expect(!record.id.isEmpty, "\(name)")
            } catch {
                #expect(error.description.hasPrefix("fuzz.jsonl:1:"), "\(name): \(error)")
            }
        }
    }

    @Test("qrels: loaded or refused")
    func qrels() throws {
        let file = try scratch("qrels.tsv")
        for (name, data) in try inputs("qrels") {
            try data.write(to: file)
            let loaded = try? RelevanceJudgments.load(path: file.path)
            if name.hasPrefix("seeds/") { #expect(loaded?.byQuery.isEmpty == false, "seed \(name) did not load") }
        }
    }

    @Test("safetensors: loaded or refused, every tensor read or refused")
    func safetensors() throws {
        let file = try scratch("model.safetensors")
        for (name, data) in try inputs("safetensors") {
            try data.write(to: file)
            guard let tensors = try? SafeTensors(path: file.path) else {
                #expect(!name.hasPrefix("seeds/"), "seed \(name) did not load")
                continue
            }
            for entry in tensors.entries.keys { _ = try? tensors.floats(entry) }
        }
    }

    @Test("tokenizer.json: loaded or refused; a loaded one tokenises")
    func tokenizer() throws {
        let file = try scratch("tokenizer.json")
        for (name, data) in try inputs("tokenizer") {
            try data.write(to: file)
            guard let tokenizer = try? WordPieceTokenizer(folder: file.deletingLastPathComponent()) else {
                #expect(!name.hasPrefix("seeds/"), "seed \(name) did not load")
                continue
            }
            #expect(tokenizer.encode("Hello, world! Ünïcödé 漢字 don't", maxLength: 32).count <= 32)
        }
    }
}
