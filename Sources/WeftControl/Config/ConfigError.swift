/// A problem in weftd's configuration file, naming the file and the key so
/// the operator knows exactly which line to fix.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public var source: String
    public var key: String?
    public var message: String

    public init(source: String, key: String?, message: String) {
        self.source = source; self.key = key; self.message = message
    }

    public var description: String {
        if let key { return "\(source): \(key): \(message)" }
        return "\(source): \(message)"
    }
}
