// The CNI error result: {"cniVersion", "code", "msg", "details"} on stdout
// and a non-zero exit status. Codes 1-99 are the specification's; 100 and up
// are weft-cni's own.

public struct CNIError: Error, Equatable, CustomStringConvertible {
    public var code: Int
    public var msg: String
    public var details: String

    public init(_ code: Int, _ msg: String, details: String = "") {
        self.code = code; self.msg = msg; self.details = details
    }

    public var description: String { details.isEmpty ? msg : "\(msg) (\(details))" }

    // Well-known codes (CNI specification 1.1.0, "Error").
    public static let incompatibleVersion = 1
    public static let unsupportedField = 2
    public static let unknownContainer = 3
    public static let invalidEnvironment = 4
    public static let ioFailure = 5
    public static let decodeFailure = 6
    public static let invalidConfig = 7
    public static let tryAgainLater = 11
    public static let notAvailable = 50
    public static let notAvailableLimited = 51

    // weft-cni's own codes.
    /// weftd refused the request (a conflict such as an address in use or
    /// an interface that already exists); `details` holds weftd's error code.
    public static let weftdRefused = 100
    /// CHECK found the attachment missing or different from prevResult.
    public static let checkFailed = 101
    /// weftd failed while doing the request (kernel or dataplane error).
    public static let weftdFailed = 102
    /// A delegated plugin (IPAM) could not be run or answered garbage.
    public static let delegateFailed = 103

    func json(cniVersion: String) -> JSON {
        var fields: [String: JSON] = ["cniVersion": .string(cniVersion), "code": .int(code), "msg": .string(msg)]
        if !details.isEmpty { fields["details"] = .string(details) }
        return .object(fields)
    }
}
