import Foundation

/// An instruction put around a text before embedding: a plain prefix such as
/// `"query: "`, or a template with `{text}` (and optionally `{task}`) such as
/// `"Instruct: {task}\nQuery: {text}"`.
public struct PromptTemplate: Sendable, Equatable, CustomStringConvertible {
    public let template: String

    public init(_ template: String) { self.template = template }

    /// The text as the model should see it.
    public func apply(to text: String, task: String? = nil) -> String {
        let filled = filled(task: task)
        guard let range = filled.range(of: "{text}") else { return filled + text }
        return filled.replacingCharacters(in: range, with: text)
    }

    /// The part that comes before the text (what `include_prompt: false` leaves out of pooling).
    public func prefix(task: String? = nil) -> String {
        let filled = filled(task: task)
        guard let range = filled.range(of: "{text}") else { return filled }
        return String(filled[..<range.lowerBound])
    }

    /// Whether an instruction (a task) has a place in this prompt: a `{task}` slot, or the
    /// instruction of an LLM embedder's query prompt written out, `Instruct: …\nQuery:`
    /// (Qwen3-Embedding, gte-Qwen2, e5-mistral), which a task replaces.
    public var takesInstruction: Bool { template.contains("{task}") || writtenInstruction != nil }

    /// The template with `task` in its place; without a task, a written-out instruction stays.
    private func filled(task: String?) -> String {
        if template.contains("{task}") { return template.replacingOccurrences(of: "{task}", with: task ?? "") }
        guard let task, let written = writtenInstruction else { return template }
        return template.replacingCharacters(in: written, with: task)
    }

    /// Where the instruction of `Instruct: INSTRUCTION\nQuery:` stands.
    private var writtenInstruction: Range<String.Index>? {
        guard template.hasPrefix(Self.instructMark), let end = template.range(of: Self.queryMark) else { return nil }
        let start = template.index(template.startIndex, offsetBy: Self.instructMark.count)
        return start <= end.lowerBound ? start..<end.lowerBound : nil
    }

    private static let instructMark = "Instruct: "
    private static let queryMark = "\nQuery:"

    public var isEmpty: Bool { template.isEmpty }
    public var description: String { template.debugDescription }
}
