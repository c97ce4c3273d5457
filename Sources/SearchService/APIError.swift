import Foundation
import Hummingbird
import Search
import Store

/// An error reply: a status, a stable code a program can test, a message for a person and,
/// where one field of the request is at fault, its name. Sent as
/// `{"error": {"code": …, "message": …, "field": …}}`.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var field: String?

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// 400: the body is not JSON, or not the JSON this endpoint reads.
    static func malformed(_ message: String) -> APIError { APIError(.badRequest, code: "malformed_json", message) }
    /// 422: a field is missing or holds a value outside what it allows.
    static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(.unprocessableContent, code: "invalid_field", "\(field): \(message)", field: field)
    }
    static func unknownIndex(_ name: String) -> APIError {
        APIError(.notFound, code: "unknown_index", "no index named \"\(name)\" is served here", field: "index")
    }
    static func tooLarge(_ message: String, field: String? = nil) -> APIError {
        APIError(.contentTooLarge, code: "too_large", message, field: field)
    }
    static func unavailable(_ code: String, _ message: String) -> APIError {
        APIError(.serviceUnavailable, code: code, message)
    }

    /// The reply for a search's failure: what the request got wrong (an unknown index, a blank
    /// query) is the caller's; a model that cannot load or a database that fails is 503.
    static func from(_ error: SearchError, index: String) -> APIError {
        switch error {
        case .unknownIndex, .store(.unknownIndex): return .unknownIndex(index)
        case .emptyQuery(let id):
            return .invalid(id == nil ? "query" : "queries", id.map { "query \($0) is empty" } ?? "the query is empty")
        case .modelMissing, .modelUnreadable, .weightsDiffer:
            return .unavailable("model_unavailable", "\(error)")
        case .store(let store) where store.isConnectionLoss:
            return .unavailable("database_unavailable", "\(error)")
        default: return APIError(.internalServerError, code: "search_failed", "\(error)")
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONReply.response(
            Body(error: .init(code: code, message: message, field: field)),
            status: status
        )
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer realm=\"driftless\"" }
        return response
    }

    struct Body: Codable {
        var error: Detail
        struct Detail: Codable {
            var code: String
            var message: String
            var field: String?
        }
    }
}

/// JSON replies with the same encoder everywhere (keys as written, no escaped slashes).
enum JSONReply {
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
