// CNI specification versions weft-cni speaks, and what changed between them
// in the shape of a result.

public enum CNIVersion {
    public static let supported = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    public static let latest = "1.1.0"

    /// "1.0.0" -> (1, 0, 0); nil when not three decimal numbers.
    static func parts(_ version: String) -> (Int, Int, Int)? {
        let numbers = version.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard numbers.count == 3, let major = numbers[0], let minor = numbers[1], let patch = numbers[2],
              major >= 0, minor >= 0, patch >= 0 else { return nil }
        return (major, minor, patch)
    }

    /// Whether `version` is at least `minimum` (both well-formed).
    static func atLeast(_ version: String, _ minimum: String) -> Bool {
        guard let lhs = parts(version), let rhs = parts(minimum) else { return false }
        return lhs >= rhs
    }

    static func checkSupported(_ version: String) throws {
        guard supported.contains(version) else {
            throw CNIError(CNIError.incompatibleVersion,
                           "cniVersion \"\(version)\" is not supported by weft; use one of \(supported.joined(separator: ", "))")
        }
    }
}
