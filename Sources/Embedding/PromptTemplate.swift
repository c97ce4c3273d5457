import Foundation

/// An instruction put around a text before embedding: a plain prefix such as
/// `"query: "`, or a template with `{text}` (and optionally `{task}`) such as
/// `"Instruct: {task}\nQuery: {text}"`.
public struct PromptTemplate: Sendable, Equatable, CustomStringConvertible {
    public let template: String

    public init(_ template: String) { self.template = template }

    /// The text as the model should see it.
    public func apply(to text: String, task: String? = nil) -> String {
        let filled = template.replacingOccurrences(of: "{task}", with: task ?? "")
        guard let range = filled.range(of: "{text}") else { return filled + text }
        return filled.replacingCharacters(in: range, with: text)
    }

    /// The part that comes before the text (what `include_prompt: false` leaves out of pooling).
    public func prefix(task: String? = nil) -> String {
        let filled = template.replacingOccurrences(of: "{task}", with: task ?? "")
        guard let range = filled.range(of: "{text}") else { return filled }
        return String(filled[..<range.lowerBound])
    }

    public var isEmpty: Bool { template.isEmpty }
    public var description: String { template.debugDescription }
}
