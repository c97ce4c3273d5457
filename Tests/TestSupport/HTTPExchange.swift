import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP request to a service under test, and its reply.
public struct HTTPExchange: Sendable {
    public var status: Int
    public var body: Data
    public var headers: [String: String]

    /// The body as a JSON object (empty when it is not one).
    public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    public var text: String { String(decoding: body, as: UTF8.self) }
    /// `error.code` of a JSON error reply.
    public var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    public var errorField: String? { (json["error"] as? [String: Any])?["field"] as? String }

    /// Sends `method url` with `body` (an object is sent as JSON, Data or String as they are).
    public static func send(
        _ method: String,
        _ url: URL,
        body: Any? = nil,
        token: String? = nil,
        timeout: TimeInterval = 120
    ) throws -> HTTPExchange {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        switch body {
        case nil: break
        case let data as Data: request.httpBody = data
        case let text as String: request.httpBody = Data(text.utf8)
        case let object?: request.httpBody = try JSONSerialization.data(withJSONObject: object)
        }
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        final class Box: @unchecked Sendable { var result: Result<HTTPExchange, any Error>? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let session = URLSession(configuration: .ephemeral)
        session.dataTask(with: request) { data, response, error in
            if let error {
                box.result = .failure(error)
            } else {
                let http = response as? HTTPURLResponse
                var headers: [String: String] = [:]
                for (key, value) in http?.allHeaderFields ?? [:] { headers["\(key)".lowercased()] = "\(value)" }
                box.result = .success(
                    HTTPExchange(status: http?.statusCode ?? 0, body: data ?? Data(), headers: headers)
                )
            }
            done.signal()
        }.resume()
        done.wait()
        session.finishTasksAndInvalidate()
        return try box.result!.get()
    }
}
