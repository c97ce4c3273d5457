import Foundation
import Search
import SearchService

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A client of a running `coord api`: one JSON request, one JSON reply; error replies come back
/// as their message and code.
struct APIClient {
    let base: URL
    let token: String?
    var timeout: TimeInterval = 60

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(base: String, tokenFile: String?) throws(Failure) {
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme) else {
            throw Failure(description: "--api \(base) is not an http:// or https:// URL")
        }
        self.base = url
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw Failure(description: "cannot read the token file \(tokenFile)")
            }
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            token = ProcessInfo.processInfo.environment["DRIFTLESS_API_TOKEN"]
        }
    }

    private struct ErrorReply: Decodable {
        var error: Detail
        struct Detail: Decodable {
            var code: String
            var message: String
        }
    }

    func search(_ request: SearchRequest) throws(Failure) -> SearchReply {
        try post("v1/search", request)
    }

    private func post<Reply: Decodable>(_ path: String, _ body: some Encodable) throws(Failure) -> Reply {
        var request = URLRequest(url: base.appendingPathComponent(path), timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        do { request.httpBody = try JSONEncoder().encode(body) } catch { throw Failure(description: "\(error)") }
        let (data, status) = try Self.send(request)
        guard status == 200 else {
            if let reply = try? JSONDecoder().decode(ErrorReply.self, from: data) {
                throw Failure(description: "\(base): \(status) \(reply.error.code): \(reply.error.message)")
            }
            throw Failure(description: "\(base): HTTP \(status)")
        }
        do { return try JSONDecoder().decode(Reply.self, from: data) } catch {
            throw Failure(description: "\(base): an unexpected reply: \(error)")
        }
    }

    private static func send(_ request: URLRequest) throws(Failure) -> (Data, Int) {
        final class Box: @unchecked Sendable {
            var result: Result<(Data, Int), Failure> = .failure(Failure(description: "no reply"))
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                box.result = .failure(
                    Failure(description: "\(request.url?.absoluteString ?? ""): \(error.localizedDescription)")
                )
            } else {
                box.result = .success((data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0))
            }
            done.signal()
        }.resume()
        done.wait()
        return try box.result.get()
    }
}
