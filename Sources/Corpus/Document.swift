/// A document, one type from the corpus file to the database: a line read from a JSONL corpus
/// (``parse(_:path:line:)``), a submission's and a shard's document on the wire, a document staged
/// in a job and committed by a worker.
public struct Document: Codable, Sendable, Equatable {
    /// Position in the job (submission order); 0 in a submission, where the coordinator numbers them.
    public var seq: Int
    /// Line in the submitted file, for error messages.
    public var line: Int
    public var id: String
    public var title: String
    public var text: String
    /// The line's other fields, as a JSON object's text (`{}` when none).
    public var metadata: String
    /// Submission order across all jobs, given when the document is staged (0 in a submission):
    /// a worker's commit never replaces a newer version of the document.
    public var version: Int64
    /// The content hash the document was staged with (its title, text and metadata as submitted):
    /// what the commit records, so a document re-embedded from the database keeps its hash although
    /// its metadata's JSON text is spelled differently there. Absent in a submission.
    public var contentHash: String?

    public init(
        seq: Int = 0,
        line: Int,
        id: String,
        title: String,
        text: String,
        metadata: String = "{}",
        version: Int64 = 0,
        contentHash: String? = nil
    ) {
        self.contentHash = contentHash
        self.seq = seq
        self.version = version
        self.line = line
        self.id = id
        self.title = title
        self.text = text
        self.metadata = metadata
    }

    /// What the model embeds: `title + " " + text`, or the text alone when there is no title (the
    /// sentence-transformers / BEIR convention). The one place this is decided.
    public var embeddingText: String { Self.embeddingText(title: title, text: text) }

    public static func embeddingText(title: String, text: String) -> String {
        title.isEmpty ? text : title + " " + text
    }

    private enum CodingKeys: String, CodingKey { case seq, line, id, title, text, metadata, version, contentHash }

    /// `version` and `contentHash` may be absent (a client's submission has neither: the coordinator numbers
    /// documents when it stages them, and a worker hashes a document staged without one).
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        seq = try container.decode(Int.self, forKey: .seq)
        line = try container.decode(Int.self, forKey: .line)
        id = try container.decode(String.self, forKey: .id)
        title = try container.decode(String.self, forKey: .title)
        text = try container.decode(String.self, forKey: .text)
        metadata = try container.decode(String.self, forKey: .metadata)
        version = try container.decodeIfPresent(Int64.self, forKey: .version) ?? 0
        contentHash = try container.decodeIfPresent(String.self, forKey: .contentHash)
    }
}
