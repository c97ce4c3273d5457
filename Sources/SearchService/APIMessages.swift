import Foundation
import Search
import Store
import Wire

/// `POST /v1/search` (also what `coord query --api` sends).
public struct SearchRequest: Codable, Sendable {
    public var index: String
    public var query: String?
    public var queries: [String]?
    public var k: Int?
    /// Metadata conditions, all of which must hold: `{"field": value, "nested.field": value}`.
    public var filter: [String: JSONValue]?
    public var exact: Bool?
    public var ef_search: Int?
    /// The task of these queries, in the query prompt of models that take one (default: the
    /// index's own instruction, if it has one).
    public var instruction: String?

    public init(
        index: String,
        query: String? = nil,
        queries: [String]? = nil,
        k: Int? = nil,
        filter: [String: JSONValue]? = nil,
        exact: Bool? = nil,
        ef_search: Int? = nil,
        instruction: String? = nil
    ) {
        self.index = index
        self.query = query
        self.queries = queries
        self.k = k
        self.filter = filter
        self.exact = exact
        self.ef_search = ef_search
        self.instruction = instruction
    }
}

/// One result: as `coord query --json` prints it, with the document's metadata.
public struct SearchHit: Codable, Equatable, Sendable {
    public var id: String
    public var score: Double
    public var title: String
    public var snippet: String
    public var metadata: JSONValue

    init(_ result: IndexSearcher.Result) {
        id = result.id
        score = result.score
        title = result.title
        snippet = result.snippet
        metadata = JSONValue(parsing: result.metadata)
    }

    /// As ``IndexSearcher/Result`` (the metadata as JSON text).
    public var result: IndexSearcher.Result {
        let text = (try? JSONEncoder().encode(metadata)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return IndexSearcher.Result(id: id, score: score, title: title, snippet: snippet, metadata: text)
    }
}

public struct SearchReply: Codable, Sendable {
    public var index: String
    /// The model that embedded the queries, and how the index serves them (native, project,
    /// fuse, rescore, promoted).
    public var model: String
    public var mode: String
    /// `exact`, or `hnsw(efSearch: N)`.
    public var method: String
    /// For `query`.
    public var results: [SearchHit]?
    /// For `queries`: one entry per query, in order.
    public var queries: [QueryResults]?

    public struct QueryResults: Codable, Sendable {
        public var query: String
        public var results: [SearchHit]
    }
}

/// `POST /v1/embeddings`: OpenAI's request, with `prompt_name` (a prompt of the model's, e.g.
/// "query") and `driftless_index` (the query vector as that index serves it) added.
struct EmbeddingsRequest: Decodable {
    var model: String?
    var input: Input
    var prompt_name: String?
    var driftless_index: String?
    var encoding_format: String?
    var dimensions: Int?
    var user: String?

    enum Input: Decodable {
        case one(String)
        case many([String])

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .one(text)
            } else if let texts = try? container.decode([String].self) {
                self = .many(texts)
            } else {
                throw DecodingError.typeMismatch(
                    String.self,
                    .init(
                        codingPath: decoder.codingPath,
                        debugDescription: "a string or an array of strings (token ids are not accepted)"
                    )
                )
            }
        }

        var texts: [String] {
            switch self {
            case .one(let text): [text]
            case .many(let texts): texts
            }
        }
    }
}

struct EmbeddingsReply: Encodable {
    var object = "list"
    var data: [Item]
    var model: String
    var usage: Usage

    struct Item: Encodable {
        var object = "embedding"
        var embedding: Vector
        var index: Int
    }

    /// Floats, or their little-endian float32 bytes in base64 (`encoding_format: "base64"`, as
    /// OpenAI's Python client asks by default).
    enum Vector: Encodable {
        case floats([Float])
        case base64(String)

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .floats(let floats): try container.encode(floats)
            case .base64(let text): try container.encode(text)
            }
        }
    }

    struct Usage: Encodable {
        var prompt_tokens: Int
        var total_tokens: Int
    }
}

/// `GET /v1/indexes` and `/v1/indexes/{name}`.
struct IndexInfo: Codable {
    var name: String
    var model: String
    var dimension: Int
    var storage: String
    var vectors: Int
    var hnsw: Bool
    var efSearch: Int
    /// How it serves queries now.
    var serving: Serving

    struct Serving: Codable {
        var mode: String
        /// The model that embeds queries.
        var model: String
        var fuseWeight: Double?
        var rescoreDepth: Int?
        /// After an upgrade: the index of the new model's vectors and how far the re-index has come.
        var successor: Successor?
    }

    struct Successor: Codable {
        var name: String
        var vectors: Int
        /// successor vectors / this index's vectors, 0…1.
        var completeness: Double
    }
}

struct IndexList: Codable {
    var indexes: [IndexInfo]
}

struct JobList: Codable {
    var coordinator: String
    var jobs: [StatusReport.JobStatus]
}

struct WorkerList: Codable {
    var coordinator: String
    var workers: [StatusReport.WorkerStatus]
}

struct Health: Codable {
    var status: String
    var database: String?
    var models: [String]?
    var missing: [String: String]?
}
