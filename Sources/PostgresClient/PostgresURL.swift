import Foundation

/// Database URLs as given by flags or the environment.
public enum PostgresURL {
    /// The environment variable that holds the database URL when no flag does.
    public static let environmentVariable = "DRIFTLESS_DATABASE_URL"

    /// `url` with any password replaced by `***`, for logs and messages.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<unparsable database URL>" }
        if components.password != nil { components.password = "***" }
        if let items = components.queryItems {
            components.queryItems = items.map {
                $0.name == "password" ? URLQueryItem(name: "password", value: "***") : $0
            }
        }
        return components.string ?? "<unparsable database URL>"
    }
}
