import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Guarantees one weftd per state database. Two daemons reconciling the same
/// state would fight over the same veths and addresses, so weftd takes this
/// lock before touching anything. flock(2) is released by the kernel when the
/// process dies, so kill -9 never leaves a stale lock behind.
public final class InstanceLock {
    public let path: String
    private var fd: Int32

    public enum Failure: Error, CustomStringConvertible {
        case held(path: String)
        case system(String)

        public var description: String {
            switch self {
            case .held(let path):
                return "another weftd is already running with this state (lock \(path) is held); stop it first"
            case .system(let message):
                return message
            }
        }
    }

    /// Locks "<statePath>.lock", creating its directory if needed.
    public init(statePath: String) throws {
        path = statePath + ".lock"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Failure.system("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { throw Failure.held(path: path) }
            throw Failure.system("cannot lock \(path): \(String(cString: strerror(code)))")
        }
    }

    /// Releases the lock (also released when the process exits).
    public func release() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { release() }
}
