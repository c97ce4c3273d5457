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
    /// Submission order across all jobs, given when the document is staged (0 in a submission):
    /// a worker's commit never replaces a newer version of the document.
    public var version: Int64

    public init(
        seq: Int = 0,
        line: Int,
        id: String,
        title: String,
        text: String,
        metadata: String = "{}",
        version: Int64 = 0
    ) {
        self.seq = seq
        self.version = version
        self.line = line
        self.id = id
        self.title = title
        self.text = text
        self.metadata = metadata
    }

    private enum CodingKeys: String, CodingKey { case seq, line, id, title, text, metadata, version }

    /// `version` may be absent (a client's submission has none: the coordinator numbers documents when it stages them).
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        seq = try container.decode(Int.self, forKey: .seq)
        line = try container.decode(Int.self, forKey: .line)
        id = try container.decode(String.self, forKey: .id)
        title = try container.decode(String.self, forKey: .title)
        text = try container.decode(String.self, forKey: .text)
        metadata = try container.decode(String.self, forKey: .metadata)
        version = try container.decodeIfPresent(Int64.self, forKey: .version) ?? 0
    }
}
