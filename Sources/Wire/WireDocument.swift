/// A document on the wire: what a shard carries to a worker and a submission to the coordinator.
public struct WireDocument: Codable, Sendable, Equatable {
    /// Position in the job (submission order); 0 in a submission, where the coordinator numbers them.
    public var seq: Int
    /// Line in the submitted file, for error messages.
    public var line: Int
    public var id: String
    public var title: String
    public var text: String
    /// The line's other fields, as a JSON object's text.
    public var metadata: String

    public init(seq: Int = 0, line: Int, id: String, title: String, text: String, metadata: String = "{}") {
        self.seq = seq
        self.line = line
        self.id = id
        self.title = title
        self.text = text
        self.metadata = metadata
    }
}
