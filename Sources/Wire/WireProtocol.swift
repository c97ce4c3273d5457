import Foundation

/// The coordinator–worker–client protocol (see Schemas/wire-protocol.md):
/// every message is one ZeroMQ frame holding a JSON object whose `"type"`
/// names it. A ROUTER adds the peer's routing id as a frame in front.
public enum WireProtocol {
    /// Sent in `hello` and `submit`; a peer speaking another version is refused with both named.
    /// Version 2: uploads carry the token their `accepted` reply gave; `welcome`'s version is checked.
    /// Version 3: a shard's documents carry their version (submission order), which commits compare.
    /// Version 4: `assign` carries `documentCount` instead of the documents; the worker reads them
    /// from the database with its lease.
    public static let version = 4
    /// Larger messages make libzmq drop the connection (a shard of 1,000 long documents is a few MiB).
    /// The coordinator's endpoints take less (``WireLimits``).
    public static let maximumMessageSize: Int64 = 256 << 20

    public static func encode<M: Encodable>(_ message: M) -> Data {
        // Encoding our own value types cannot fail (no non-finite floats are sent).
        (try? encoder.encode(message)) ?? Data("{}".utf8)
    }

    /// Decodes one frame; the error says what was wrong, for the log line of a dropped message.
    public static func decode<M: Decodable>(_ type: M.Type, from frame: Data) throws(WireError) -> M {
        guard !frame.isEmpty else { throw .malformed("empty frame") }
        do {
            let message = try JSONDecoder().decode(M.self, from: frame)
            if let checked = message as? any WireValidatable { try checked.validate() }
            return message
        } catch let error as WireError {
            throw error
        } catch DecodingError.dataCorrupted(let context) {
            throw .malformed(context.underlyingError.map { "\($0.localizedDescription)" } ?? context.debugDescription)
        } catch DecodingError.keyNotFound(let key, _) {
            throw .malformed("missing field \"\(key.stringValue)\"")
        } catch DecodingError.typeMismatch(_, let context) {
            throw .malformed("wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch DecodingError.valueNotFound(_, let context) {
            throw .malformed("null at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw .malformed("\(error)")
        }
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()
}

/// Why a frame was dropped.
public enum WireError: Error, CustomStringConvertible, Sendable, Equatable {
    case malformed(String)
    case unknownType(String)
    /// Well formed, but a value is out of range (``WireLimits``).
    case invalid(String)

    public var description: String {
        switch self {
        case .malformed(let reason): "malformed message: \(reason)"
        case .invalid(let reason): "invalid message: \(reason)"
        case .unknownType(let type): "unknown message type \"\(type)\""
        }
    }
}

/// The `"type"` key every message carries.
enum MessageTypeKey: String, CodingKey { case type }

extension Decoder {
    func messageType() throws -> String {
        try container(keyedBy: MessageTypeKey.self).decode(String.self, forKey: .type)
    }
}

extension Encoder {
    func encode<P: Encodable>(type: String, _ payload: P) throws {
        try payload.encode(to: self)
        var container = container(keyedBy: MessageTypeKey.self)
        try container.encode(type, forKey: .type)
    }
}

/// An empty payload.
public struct Empty: Codable, Sendable, Equatable { public init() {} }
