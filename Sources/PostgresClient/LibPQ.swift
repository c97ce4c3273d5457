import CLibPQ

/// The linked libpq.
public enum LibPQ {
    /// libpq's version, e.g. "15.18".
    public static var version: String {
        let v = Int(PQlibVersion())
        return v >= 100_000 ? "\(v / 10_000).\(v % 10_000)" : "\(v / 10_000).\(v / 100 % 100).\(v % 100)"
    }
}
