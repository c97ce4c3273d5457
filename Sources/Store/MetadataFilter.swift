/// A condition on a document's metadata: `field=value`, where `field` may be a dotted path
/// into nested objects (`source.year=2020`). The value is compared with the field's text
/// (`metadata #>> path`), so `year=2020` matches the number 2020 and the string "2020".
public struct MetadataFilter: Sendable, Equatable, CustomStringConvertible {
    public var path: [String]
    public var value: String

    public init(path: [String], value: String) {
        self.path = path
        self.value = value
    }

    /// Parses `field=value`; the error names the filter.
    public init(parsing text: String) throws(StoreError) {
        guard let equals = text.firstIndex(of: "=") else {
            throw .invalid("filter \"\(text)\" is not field=value")
        }
        let path = text[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !path.isEmpty, !path.contains(where: \.isEmpty) else {
            throw .invalid("filter \"\(text)\" has an empty field name")
        }
        self.init(path: path, value: String(text[text.index(after: equals)...]))
    }

    public var description: String { path.joined(separator: ".") + "=" + value }

    /// The path as a PostgreSQL text array literal, for `metadata #>> $n::text[]`.
    var pathLiteral: String { CopyText.textArray(path) }
}
