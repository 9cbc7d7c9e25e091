import Foundation

/// A minimal line logger to stderr (journald adds its own timestamps when
/// weftd runs under systemd; a plain terminal gets ours). The control plane
/// only logs rare events, so a lock per line costs nothing that matters.
public final class WeftLogger: @unchecked Sendable {
    public static let shared = WeftLogger(level: .info)

    private let lock = NSLock()
    private var threshold: LogLevel

    public init(level: LogLevel) { threshold = level }

    public var level: LogLevel {
        get { lock.lock(); defer { lock.unlock() }; return threshold }
        set { lock.lock(); threshold = newValue; lock.unlock() }
    }

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard level >= self.level else { return }
        let line = "\(Self.timestamp()) weftd \(level.rawValue): \(message())\n"
        lock.lock()
        FileHandle.standardError.write(Data(line.utf8))
        lock.unlock()
    }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }

    private static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
