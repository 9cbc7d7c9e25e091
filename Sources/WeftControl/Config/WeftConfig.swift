import Foundation
import WeftIP4
import Yams

/// weftd's settings. Built from defaults, then a YAML file (configs/weftd.yaml
/// documents every key), then command-line flags, each overriding the last.
public struct WeftConfig: Equatable, Sendable {
    public static let defaultSocketPath = "/run/weft/weft.sock"
    public static let defaultStatePath = "/var/lib/weft/state.db"
    public static let defaultPath = "/etc/weft/weftd.yaml"

    /// Unix socket of the HTTP+JSON API.
    public var socketPath: String
    /// SQLite state database.
    public var statePath: String
    /// CPU the forwarding worker is pinned to (core 0 is left to the kernel and control thread).
    public var workerCPU: Int
    public var pollMode: PollMode
    public var logLevel: LogLevel
    /// NAT44 session table size (preallocated; about 100 bytes per session).
    public var natMaxSessions: Int
    /// Outside ports handed to dynamic NAT sessions.
    public var natPortRange: ClosedRange<Int>
    /// How attachments that do not say are plugged in: veth or tap, and the
    /// driver opening a veth's host end (af-packet or af-xdp).
    public var defaultAttach: AttachMode = .veth
    public var defaultDriver: PortDriver = .afPacket
    /// Structure of the IPv4 FIB tables (docs/fib.md): dxr or dir24-8.
    public var fibAlgorithm: FIBAlgorithm = .default
    /// Control socket access (docs/architecture.md): a group (name or gid)
    /// whose members may use the API besides root and weftd's own user; the
    /// body limit of the bulk paths; seconds a client has to send a request.
    public var apiGroup: String?
    public var apiMaxBodyBytes: Int = APILimits.defaultMaxBulkBodyBytes
    public var apiRequestTimeoutSeconds: Double = APILimits.defaultRequestTimeoutSeconds

    public static let natMaxSessionsRange = 16...16_777_216

    public init(socketPath: String = WeftConfig.defaultSocketPath, statePath: String = WeftConfig.defaultStatePath,
                workerCPU: Int = 1, pollMode: PollMode = .adaptive, logLevel: LogLevel = .info,
                natMaxSessions: Int = 65536, natPortRange: ClosedRange<Int> = 32768...65535) {
        self.socketPath = socketPath; self.statePath = statePath; self.workerCPU = workerCPU
        self.pollMode = pollMode; self.logLevel = logLevel
        self.natMaxSessions = natMaxSessions; self.natPortRange = natPortRange
    }

    /// Values given on the command line; nil leaves the file's (or default) value.
    public struct Overrides: Equatable, Sendable {
        public var socketPath: String?
        public var statePath: String?
        public var workerCPU: Int?
        public var pollMode: PollMode?
        public var logLevel: LogLevel?
        public init(socketPath: String? = nil, statePath: String? = nil, workerCPU: Int? = nil,
                    pollMode: PollMode? = nil, logLevel: LogLevel? = nil) {
            self.socketPath = socketPath; self.statePath = statePath; self.workerCPU = workerCPU
            self.pollMode = pollMode; self.logLevel = logLevel
        }
    }

    public func overriding(_ overrides: Overrides) -> WeftConfig {
        var config = self
        if let value = overrides.socketPath { config.socketPath = value }
        if let value = overrides.statePath { config.statePath = value }
        if let value = overrides.workerCPU { config.workerCPU = value }
        if let value = overrides.pollMode { config.pollMode = value }
        if let value = overrides.logLevel { config.logLevel = value }
        return config
    }

    /// The YAML keys, as they appear in weftd.yaml.
    enum Key: String, CaseIterable {
        case socketPath = "socket_path"
        case statePath = "state_path"
        case workerCPU = "worker_cpu"
        case pollMode = "poll_mode"
        case logLevel = "log_level"
        case natMaxSessions = "nat_max_sessions"
        case natPortRange = "nat_port_range"
        case defaultAttach = "default_attach"
        case defaultDriver = "default_driver"
        case fibAlgorithm = "fib_algorithm"
        case apiGroup = "api_group"
        case apiMaxBodyBytes = "api_max_body_bytes"
        case apiRequestTimeout = "api_request_timeout"
    }

    /// Reads and validates a YAML file. Errors name the file and the key.
    public static func load(path: String) throws -> WeftConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(source: path, key: nil, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(yaml: text, source: path)
    }

    /// Parses YAML text. Unknown keys are errors: a misspelt key silently
    /// falling back to its default is worse than refusing to start.
    public static func parse(yaml text: String, source: String = "<config>") throws -> WeftConfig {
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            throw ConfigError(source: source, key: nil, message: "not valid YAML: \(error)")
        }
        var config = WeftConfig()
        guard let document else { return config }   // empty file: all defaults
        guard let mapping = document as? [AnyHashable: Any] else {
            throw ConfigError(source: source, key: nil, message: "expected a mapping of keys (socket_path: ...), got \(type(of: document))")
        }
        let entries = mapping.map { (name: "\($0.key.base)", value: $0.value) }
        for (name, value) in entries.sorted(by: { $0.name < $1.name }) {
            guard let key = Key(rawValue: name) else {
                let known = Key.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigError(source: source, key: name, message: "unknown key; known keys are \(known)")
            }
            func fail(_ message: String) -> ConfigError { ConfigError(source: source, key: name, message: message) }
            switch key {
            case .socketPath:
                config.socketPath = try absolutePath(value, fail)
            case .statePath:
                config.statePath = try absolutePath(value, fail)
            case .workerCPU:
                guard let cpu = value as? Int, cpu >= 0 else {
                    throw fail("must be a CPU number (0 or more), got \(describe(value))")
                }
                config.workerCPU = cpu
            case .pollMode:
                guard let text = value as? String, let mode = PollMode(rawValue: text) else {
                    throw fail("must be one of \(PollMode.allCases.map(\.rawValue).joined(separator: ", ")), got \(describe(value))")
                }
                config.pollMode = mode
            case .logLevel:
                guard let text = value as? String, let level = LogLevel(rawValue: text) else {
                    throw fail("must be one of \(LogLevel.allCases.map(\.rawValue).joined(separator: ", ")), got \(describe(value))")
                }
                config.logLevel = level
            case .natMaxSessions:
                guard let n = value as? Int, natMaxSessionsRange.contains(n) else {
                    throw fail("must be a session count \(natMaxSessionsRange.lowerBound) to \(natMaxSessionsRange.upperBound), got \(describe(value))")
                }
                config.natMaxSessions = n
            case .natPortRange:
                guard let text = value as? String, let range = parsePortRange(text) else {
                    throw fail("must be \"LOW-HIGH\" with 1024 <= LOW <= HIGH <= 65535, e.g. \"32768-65535\", got \(describe(value))")
                }
                config.natPortRange = range
            case .defaultAttach:
                guard let text = value as? String, let mode = AttachMode(rawValue: text) else {
                    throw fail("must be one of \(AttachMode.allCases.map(\.rawValue).joined(separator: ", ")), got \(describe(value))")
                }
                config.defaultAttach = mode
            case .defaultDriver:
                guard let text = value as? String, let driver = PortDriver(rawValue: text) else {
                    throw fail("must be one of \(PortDriver.allCases.map(\.rawValue).joined(separator: ", ")), got \(describe(value))")
                }
                config.defaultDriver = driver
            case .fibAlgorithm:
                guard let text = value as? String, let algorithm = FIBAlgorithm(rawValue: text) else {
                    throw fail("must be one of \(FIBAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")), got \(describe(value))")
                }
                config.fibAlgorithm = algorithm
            case .apiGroup:
                guard let text = (value as? String) ?? (value as? Int).map(String.init), !text.isEmpty else {
                    throw fail("must be a group name or gid, got \(describe(value))")
                }
                config.apiGroup = text
            case .apiMaxBodyBytes:
                guard let n = value as? Int, n >= 1024 else {
                    throw fail("must be a byte count of at least 1024, got \(describe(value))")
                }
                config.apiMaxBodyBytes = n
            case .apiRequestTimeout:
                guard let seconds = (value as? Double) ?? (value as? Int).map(Double.init), seconds > 0, seconds <= 3600 else {
                    throw fail("must be seconds, more than 0 and at most 3600, got \(describe(value))")
                }
                config.apiRequestTimeoutSeconds = seconds
            }
        }
        return config
    }

    /// "LOW-HIGH", 1024 <= LOW <= HIGH <= 65535 (well-known ports are left to static mappings).
    public static func parsePortRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let low = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let high = Int(parts[1].trimmingCharacters(in: .whitespaces)), 1024 <= low, low <= high, high <= 65535 else { return nil }
        return low...high
    }

    private static func absolutePath(_ value: Any, _ fail: (String) -> ConfigError) throws -> String {
        guard let path = value as? String, path.hasPrefix("/") else {
            throw fail("must be an absolute path, got \(describe(value))")
        }
        return path
    }

    private static func describe(_ value: Any) -> String {
        if let text = value as? String { return "\"\(text)\"" }
        return "\(value)"
    }
}
