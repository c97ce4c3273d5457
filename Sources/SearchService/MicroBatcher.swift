import Embedding
import Foundation
import Search

/// One warm model shared by every search of the service: concurrent calls are gathered into one
/// model call. A caller that finds the model idle runs at once, with whatever else is waiting
/// (after at most ``Limits/wait``, when set); callers that arrive while the model runs wait and go
/// together in the next call, at most ``Limits/maximumTexts`` texts in one. Calls of one prompt go
/// together (queries with queries, documents with documents). Thread-safe; callers block.
public final class MicroBatcher: QueryEmbedding, @unchecked Sendable {
    public struct Limits: Sendable {
        /// Most texts embedded in one model call.
        public var maximumTexts = 64
        /// How long a call that finds the model idle waits for others to join it (0: not at all;
        /// under load, calls gather while the model runs anyway).
        public var wait = Duration.zero
        public init(maximumTexts: Int = 64, wait: Duration = .zero) {
            self.maximumTexts = maximumTexts
            self.wait = wait
        }
    }

    /// Which prompt texts are embedded with: the model's query prompt, its document prompt, or a
    /// named one (nil name: none).
    public enum Prompt: Hashable, Sendable {
        case query
        /// The query prompt with this task (an index's instruction) in its place.
        case instructed(String)
        case document
        case named(String?)

        /// The task a prompt fills in, if any.
        var task: String? {
            if case .instructed(let task) = self { task } else { nil }
        }
    }

    public let encoder: QueryEncoder
    public let limits: Limits
    /// Sizes of the model calls made (texts per call), for the service's metrics.
    var onBatch: (@Sendable (Int) -> Void)?

    private let condition = NSCondition()
    private var waiting: [Call] = []
    private var running = false

    private final class Call {
        let texts: [String]
        let prompt: Prompt
        var result: Result<[[Float]], SearchError>?
        init(texts: [String], prompt: Prompt) {
            self.texts = texts
            self.prompt = prompt
        }
    }

    public init(encoder: QueryEncoder, limits: Limits = Limits()) {
        self.encoder = encoder
        self.limits = limits
    }

    public func embed(_ texts: [String]) throws(SearchError) -> [[Float]] { try embed(texts, prompt: .query) }

    public func embedDocuments(_ texts: [String]) throws(SearchError) -> [[Float]] {
        try embed(texts, prompt: .document)
    }

    /// Tokens each text takes with `prompt` (truncated as the model truncates), for usage counts.
    public func tokenCounts(_ texts: [String], prompt: Prompt) -> [Int] {
        let template = self.template(prompt)
        return texts.map { encoder.model.tokenize($0, prompt: template, task: prompt.task).count }
    }

    /// The prompt names the model has (`config_sentence_transformers.json`).
    public var promptNames: [String] { encoder.model.prompts.keys.sorted() }

    public func embed(_ texts: [String], prompt: Prompt) throws(SearchError) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        // More texts than one call takes: in calls of at most that many.
        if texts.count > limits.maximumTexts {
            var vectors: [[Float]] = []
            for start in stride(from: 0, to: texts.count, by: limits.maximumTexts) {
                let end = min(start + limits.maximumTexts, texts.count)
                vectors += try embed(Array(texts[start..<end]), prompt: prompt)
            }
            return vectors
        }
        let call = Call(texts: texts, prompt: prompt)
        condition.lock()
        waiting.append(call)
        defer { condition.unlock() }
        while call.result == nil {
            guard !running else {
                condition.wait()
                continue
            }
            running = true
            if limits.wait > .zero {
                let deadline = Date().addingTimeInterval(Double(limits.wait.components.attoseconds) / 1e18)
                while waiting.reduce(0, { $0 + $1.texts.count }) < limits.maximumTexts, condition.wait(until: deadline)
                {}
            }
            let batch = takeBatch()
            condition.unlock()
            run(batch)
            condition.lock()
            running = false
            condition.broadcast()
        }
        return try call.result!.get()
    }

    /// The oldest call, and the calls after it with the same prompt while they fit in one model call.
    private func takeBatch() -> [Call] {
        guard let first = waiting.first else { return [] }
        var batch: [Call] = []
        var texts = 0
        var kept: [Call] = []
        for call in waiting {
            if call.prompt == first.prompt && texts + call.texts.count <= limits.maximumTexts {
                batch.append(call)
                texts += call.texts.count
            } else {
                kept.append(call)
            }
        }
        waiting = kept
        return batch
    }

    /// Embeds a batch in one model call and hands each call its vectors (or the error).
    private func run(_ batch: [Call]) {
        guard let prompt = batch.first?.prompt else { return }
        let texts = batch.flatMap(\.texts)
        let outcome: Result<[[Float]], SearchError>
        do { outcome = .success(try encoder.embed(texts, prompt: template(prompt), task: prompt.task)) } catch {
            outcome = .failure(error)
        }
        onBatch?(texts.count)
        condition.lock()
        var start = 0
        for call in batch {
            let range = start..<(start + call.texts.count)
            call.result = outcome.map { Array($0[range]) }
            start = range.upperBound
        }
        condition.unlock()
    }

    private func template(_ prompt: Prompt) -> PromptTemplate? {
        switch prompt {
        case .query, .instructed: encoder.prompt
        case .document: encoder.model.documentPrompt
        case .named(let name): name.flatMap { encoder.model.prompts[$0] }
        }
    }
}

/// A warm model's queries with an instruction (an index's task) in the query prompt; documents as
/// the model makes them. Queries of one instruction still go together in one model call.
final class InstructedQueries: QueryEmbedding {
    let batcher: MicroBatcher
    let task: String

    init(batcher: MicroBatcher, task: String) {
        self.batcher = batcher
        self.task = task
    }

    func embed(_ texts: [String]) throws(SearchError) -> [[Float]] {
        try batcher.embed(texts, prompt: .instructed(task))
    }
    func embedDocuments(_ texts: [String]) throws(SearchError) -> [[Float]] { try batcher.embedDocuments(texts) }
}
