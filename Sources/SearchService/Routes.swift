import Foundation
import Hummingbird
import NIOCore
import Search
import Wire

/// The routes, in one table: the OpenAPI document (`Schemas/search-api.openapi.json`) lists
/// the same, and a test holds the two to each other.
public enum Routes {
    public struct Route: Sendable, Hashable {
        public var method: String
        public var path: String
        /// Who may call it when tokens are required: nil (anyone), or the least role.
        public var role: TokenStore.Role?
    }

    public static let all: [Route] = [
        Route(method: "GET", path: "/", role: nil),
        Route(method: "GET", path: "/healthz", role: nil),
        Route(method: "GET", path: "/readyz", role: nil),
        Route(method: "GET", path: "/metrics", role: .read),
        Route(method: "POST", path: "/v1/search", role: .read),
        Route(method: "POST", path: "/v1/embeddings", role: .read),
        Route(method: "GET", path: "/v1/indexes", role: .read),
        Route(method: "GET", path: "/v1/indexes/{name}", role: .read),
        Route(method: "GET", path: "/v1/jobs", role: .read),
        Route(method: "POST", path: "/v1/jobs/{id}/cancel", role: .admin),
        Route(method: "GET", path: "/v1/workers", role: .read),
    ]

    /// The route a request path is for (its template), or nil.
    static func match(method: String, path: String) -> Route? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return all.first { route in
            let template = route.path.split(separator: "/", omittingEmptySubsequences: true)
            guard route.method == method || (method == "HEAD" && route.method == "GET"),
                template.count == parts.count
            else { return false }
            return zip(template, parts).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
    }
}

extension SearchService {
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: Frame(service: self))
        router.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: StatusPage.html))
            )
        }
        router.get("/healthz") { _, _ in try JSONReply.response(Health(status: "ok")) }
        router.get("/readyz") { _, _ in try await self.readiness() }
        router.get("/metrics") { _, _ in
            var body: [UInt8] = []
            self.metrics.registry.emit(into: &body)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
        router.post("/v1/search") { request, context in
            let body = try await self.decode(SearchRequest.self, request)
            let engine = self.engine
            return try JSONReply.response(try await self.blocking { try engine.search(body) })
        }
        router.post("/v1/embeddings") { request, context in
            let body = try await self.decode(EmbeddingsRequest.self, request)
            let engine = self.engine
            return try JSONReply.response(try await self.blocking { try engine.embeddings(body) })
        }
        router.get("/v1/indexes") { _, _ in
            let engine = self.engine
            return try JSONReply.response(IndexList(indexes: try await self.blocking { try engine.indexes() }))
        }
        router.get("/v1/indexes/{name}") { _, context in
            let name = context.parameters.get("name") ?? ""
            let engine = self.engine
            return try JSONReply.response(try await self.blocking { try engine.indexes(named: name) }[0])
        }
        router.get("/v1/jobs") { _, _ in
            let report = try await self.blocking { try self.requireCoordinator().status() }
            return try JSONReply.response(JobList(coordinator: report.coordinator, jobs: report.jobs))
        }
        router.post("/v1/jobs/{id}/cancel") { _, context in
            guard let text = context.parameters.get("id"), let job = Int64(text), job > 0 else {
                throw APIError.invalid("id", "must be a job number")
            }
            let status = try await self.blocking { try self.requireCoordinator().cancel(job: job) }
            return try JSONReply.response(JobList(coordinator: "", jobs: status.map { [$0] } ?? []))
        }
        router.get("/v1/workers") { _, _ in
            let report = try await self.blocking { try self.requireCoordinator().status() }
            return try JSONReply.response(WorkerList(coordinator: report.coordinator, workers: report.workers))
        }
        return router
    }

    private func requireCoordinator() throws(APIError) -> CoordinatorLink {
        guard let link = engine.coordinator else {
            throw APIError.unavailable(
                "coordinator_unavailable",
                "this service was started without a coordinator (coord api --coordinator ENDPOINT)"
            )
        }
        return link
    }

    private func readiness() async throws -> Response {
        let (ready, missing) = state.withLock { ($0.ready, $0.missing) }
        let engine = self.engine
        let database = try await blocking { engine.databaseReachable() }
        let ok = ready && database && missing.isEmpty
        return try JSONReply.response(
            Health(
                status: ok ? "ready" : (ready ? "degraded" : "loading models"),
                database: database ? "ok" : "unreachable",
                models: engine.models.names,
                missing: missing.isEmpty ? nil : missing
            ),
            status: ok ? .ok : .serviceUnavailable
        )
    }

    /// A JSON body of type `T`: 413 past the limit, 400 when it is not JSON, 422 naming the
    /// field whose value does not fit.
    func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: settings.maximumBodyBytes) } catch {
            throw APIError.tooLarge("request bodies are limited to \(settings.maximumBodyBytes) bytes")
        }
        let data = Data(buffer: buffer)
        guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else {
            throw APIError.malformed("the request body is not valid JSON")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DecodingError {
            throw Self.describe(error)
        }
    }

    static func describe(_ error: DecodingError) -> APIError {
        func name(_ path: [any CodingKey]) -> String {
            path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
                .trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .invalid(name(context.codingPath + [key]), "is required")
        case .typeMismatch(let type, let context):
            let field = name(context.codingPath)
            if field.isEmpty { return .malformed("the request body must be a JSON object") }
            return .invalid(field, "must be \(Self.kind(type, context))")
        case .valueNotFound(let type, let context):
            return .invalid(name(context.codingPath), "must be \(Self.kind(type, context)), not null")
        case .dataCorrupted(let context):
            return .invalid(name(context.codingPath), context.debugDescription)
        @unknown default:
            return .malformed("\(error)")
        }
    }

    private static func kind(_ type: Any.Type, _ context: DecodingError.Context) -> String {
        if context.debugDescription.hasPrefix("a string or") { return context.debugDescription }
        switch type {
        case is String.Type: return "a string"
        case is Int.Type: return "an integer"
        case is Bool.Type: return "true or false"
        case is [String].Type: return "a list of strings"
        case is Double.Type: return "a number"
        default: return "\(type)".contains("Dictionary") ? "an object" : "of type \(type)"
        }
    }
}

/// Around every request: 503 while draining, the bearer token where one is needed, every
/// error as JSON (``APIError``), and the request's count and latency in the metrics.
struct Frame: RouterMiddleware {
    typealias Context = BasicRequestContext
    let service: SearchService

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let started = ContinuousClock.now
        let route = Routes.match(method: request.method.rawValue, path: request.uri.path)
        var response: Response
        let admitted = service.state.withLock { state in
            guard !state.draining else { return false }
            state.inFlight += 1
            service.metrics.inFlight.record(Int64(state.inFlight))
            return true
        }
        do {
            guard admitted else {
                throw APIError.unavailable(
                    "shutting_down",
                    "the service is stopping; try another replica or again later"
                )
            }
            defer {
                service.state.withLock { state in
                    state.inFlight -= 1
                    service.metrics.inFlight.record(Int64(state.inFlight))
                }
            }
            try authorize(request, route: route)
            if route == nil
                && Routes.all.contains(where: { Routes.match(method: $0.method, path: request.uri.path) != nil })
            {
                throw APIError(
                    .methodNotAllowed,
                    code: "method_not_allowed",
                    "\(request.method) is not allowed on \(request.uri.path)"
                )
            }
            response = try await next(request, context)
        } catch {
            response = try Self.errorResponse(error, request: request, context: context)
        }
        if !admitted { response.headers[.connection] = "close" }
        service.metrics.observe(
            route: route?.path ?? "other",
            method: request.method.rawValue,
            status: response.status.code,
            duration: started.duration(to: .now)
        )
        return response
    }

    private func authorize(_ request: Request, route: Routes.Route?) throws(APIError) {
        guard let tokens = service.settings.tokens, let needed = route?.role else { return }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw APIError(
                .unauthorized,
                code: "unauthorized",
                "this service needs a bearer token (Authorization: Bearer TOKEN)"
            )
        }
        guard let role = tokens.role(of: String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces))
        else {
            throw APIError(.unauthorized, code: "unauthorized", "the bearer token is not known here, or was revoked")
        }
        if needed == .admin && role != .admin {
            throw APIError(
                .forbidden,
                code: "forbidden",
                "\(request.method) \(request.uri.path) needs an admin token; this one may only read"
            )
        }
    }

    static func errorResponse(_ error: any Error, request: Request, context: Context) throws -> Response {
        let api: APIError =
            switch error {
            case let error as APIError: error
            case let error as HTTPError where error.status == .notFound:
                APIError(.notFound, code: "not_found", "no route \(request.method) \(request.uri.path)")
            case let error as HTTPError where error.status == .contentTooLarge:
                .tooLarge(error.body ?? "the request body is too large")
            case let error as HTTPError: APIError(error.status, code: "http_error", error.body ?? "\(error.status)")
            default: APIError(.internalServerError, code: "internal", "\(error)")
            }
        return try api.response(from: request, context: context)
    }
}
