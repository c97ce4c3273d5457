import Crypto
import Foundation

/// The sha256 of what a document is (title, text, metadata): equal hashes mean
/// a re-submitted document is unchanged and need not be embedded again.
public enum ContentHash {
    public static func of(title: String, text: String, metadata: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(title.utf8))
        hasher.update(data: Data([0]))
        hasher.update(data: Data(text.utf8))
        hasher.update(data: Data([0]))
        hasher.update(data: Data(metadata.utf8))
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
