// Who may talk to weftd's API socket, and how much a request may cost
// (docs/architecture.md, "Control socket access").
//
// The socket file's mode is the first gate (0600, or 0660 with group
// api_group); every accepted connection is then checked again against the
// peer's credentials as the kernel recorded them at connect (SO_PEERCRED),
// so a socket whose mode was loosened, or a descriptor passed to another
// process, does not widen access.

import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The peer of a unix socket connection (Linux `struct ucred`, which Glibc's
/// Swift module does not export: the same three 32-bit fields, in order).
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid; self.uid = uid; self.gid = gid
    }

    /// getsockopt(SOL_SOCKET, SO_PEERCRED) on the channel's socket; fails on a
    /// channel that is not a socket (e.g. an embedded one in tests).
    static func of(_ channel: Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future
    }
}

/// Who may use the API: root, the user weftd runs as, and members of the
/// configured group (api_group), by primary or supplementary membership.
public struct APIAccessPolicy: Sendable {
    public var ownUID: UInt32
    public var group: UInt32?
    /// Whether user `uid` is a supplementary member of group `gid` (the
    /// group database; injectable for tests).
    public var isMember: @Sendable (_ uid: UInt32, _ gid: UInt32) -> Bool

    public init(ownUID: UInt32 = getuid(), group: UInt32? = nil,
                isMember: @escaping @Sendable (UInt32, UInt32) -> Bool = APIAccessPolicy.groupDatabaseMember) {
        self.ownUID = ownUID; self.group = group; self.isMember = isMember
    }

    /// nil when `peer` may use the API, else why not (for the log and the 403).
    public func refusal(_ peer: PeerCredentials) -> String? {
        if peer.uid == 0 || peer.uid == ownUID { return nil }
        if let group, peer.gid == group || isMember(peer.uid, group) { return nil }
        let allowed = group.map { "root, uid \(ownUID) (weftd) or members of group \(Self.groupName($0) ?? String($0)) (api_group)" }
            ?? "root or uid \(ownUID) (weftd); set api_group to admit a group"
        return "uid \(peer.uid) (pid \(peer.pid)) may not use weftd's API: only \(allowed)"
    }

    /// Supplementary membership as the group database says (getgrouplist).
    public static let groupDatabaseMember: @Sendable (UInt32, UInt32) -> Bool = { uid, gid in
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil, let name = pwd.pw_name else { return false }
        var count: Int32 = 256
        var groups = [gid_t](repeating: 0, count: Int(count))
        guard getgrouplist(name, pwd.pw_gid, &groups, &count) >= 0 else { return false }
        return groups.prefix(Int(count)).contains(gid)
    }

    /// A group given by name or number -> its gid; nil when unknown.
    public static func resolveGroup(_ text: String) -> UInt32? {
        var entry = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        if getgrnam_r(text, &entry, &buffer, buffer.count, &result) == 0, result != nil { return entry.gr_gid }
        return UInt32(text)
    }

    static func groupName(_ gid: UInt32) -> String? {
        var entry = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrgid_r(gid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.gr_name else { return nil }
        return String(cString: name)
    }
}

/// What one request may cost: body size (per path), header size, and the
/// time the client has to send the whole request.
public struct APILimits: Sendable, Equatable {
    /// Body limit of every path but the bulk ones.
    public var maxBodyBytes: Int
    /// Body limit of the bulk paths (`api_max_body_bytes`): POST
    /// /v1/routes/bulk with 1M routes is about 50 MB of JSON.
    public var maxBulkBodyBytes: Int
    public var maxHeaderBytes: Int
    /// A connection that has not sent a complete request this long after it
    /// was accepted gets 408 and is closed (`api_request_timeout`).
    public var requestTimeoutSeconds: Double

    public static let defaultMaxBodyBytes = 1 << 20
    public static let defaultMaxBulkBodyBytes = 64 << 20
    public static let defaultRequestTimeoutSeconds = 10.0
    /// Paths whose bodies may be up to maxBulkBodyBytes.
    public static let bulkPaths: Set<String> = ["/v1/routes/bulk"]

    public static let `default` = APILimits()

    public init(maxBodyBytes: Int = APILimits.defaultMaxBodyBytes, maxBulkBodyBytes: Int = APILimits.defaultMaxBulkBodyBytes,
                maxHeaderBytes: Int = 16 << 10, requestTimeoutSeconds: Double = APILimits.defaultRequestTimeoutSeconds) {
        self.maxBodyBytes = maxBodyBytes; self.maxBulkBodyBytes = maxBulkBodyBytes
        self.maxHeaderBytes = maxHeaderBytes; self.requestTimeoutSeconds = requestTimeoutSeconds
    }

    /// The body limit for a request target ("/v1/routes/bulk?x=y"): the bulk
    /// limit for bulk paths, else the smaller of the two.
    public func maxBody(forTarget target: String) -> Int {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        let normalized = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        return Self.bulkPaths.contains(normalized) ? maxBulkBodyBytes : min(maxBodyBytes, maxBulkBodyBytes)
    }

    /// 413 body: the limit and the setting that raises it.
    static func tooLarge(limit: Int, target: String, announced: Int?) -> APIResponse {
        let bulk = APILimits.bulkPaths.sorted().joined(separator: ", ")
        let size = announced.map { " (\($0) bytes announced)" } ?? ""
        return .error(ControlError(
            .payloadTooLarge, code: "body_too_large",
            message: "request body exceeds the limit of \(limit) bytes for \(target)\(size); bulk paths (\(bulk)) take up to api_max_body_bytes"))
    }

    /// 408 body.
    func timedOut() -> APIResponse {
        let message = "the request was not complete within \(Self.format(requestTimeoutSeconds)) s (api_request_timeout); connection closed"
        return APIResponse(status: 408, body: Self.errorBody(code: "request_timeout", message: message))
    }

    /// 403 body.
    static func forbidden(_ reason: String) -> APIResponse {
        APIResponse(status: 403, body: errorBody(code: "forbidden", message: reason))
    }

    /// `{"error": {"code", "message"}}` for statuses ControlError has no kind for.
    static func errorBody(code: String, message: String) -> [UInt8] {
        (try? APIJSON.encode(ErrorResponse(ControlError(.badRequest, code: code, message: message)))) ?? []
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

/// Counts of what the API refused (read from any thread): for the log, and as
/// the error counters of a pseudo-node `api` in `GET /v1/errors` (`weftctl show
/// errors`), next to the dataplane's, so a refused request is counted like a
/// dropped packet.
public final class APIRefusals: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: UInt64] = [:]

    /// reason -> (counter name, description), in listing order.
    static let known: [(reason: String, name: String, help: String)] = [
        ("peer", "forbidden", "connections refused: peer credentials not allowed (403)"),
        ("timeout", "request-timeout", "requests not complete within api_request_timeout (408)"),
        ("too-large", "body-too-large", "request bodies over the size limit (413)"),
        ("bad-request", "bad-request", "malformed or invalid requests (400)"),
        ("not-found", "not-found", "unknown endpoints or objects (404)"),
        ("method-not-allowed", "method-not-allowed", "wrong HTTP method for the endpoint (405)"),
        ("conflict", "conflict", "requests conflicting with existing state (409)"),
        ("headers-too-large", "headers-too-large", "request heads over the limit (431)"),
        ("unavailable", "unavailable", "requests refused for lack of a resource, e.g. file descriptors (503)"),
        ("internal", "internal", "requests failed by an internal error (500)"),
    ]

    public init() {}

    /// The reason a refused request is counted under, by its HTTP status.
    static func reason(status: Int) -> String {
        switch status {
        case 403: return "peer"
        case 400: return "bad-request"
        case 404: return "not-found"
        case 405: return "method-not-allowed"
        case 408: return "timeout"
        case 409: return "conflict"
        case 413: return "too-large"
        case 431: return "headers-too-large"
        case 503: return "unavailable"
        case 500...: return "internal"
        default: return "bad-request"
        }
    }

    /// Every known reason as an `api/NAME` error counter (zeros included).
    public func counters() -> [ErrorCounterInfo] {
        lock.lock(); defer { lock.unlock() }
        return Self.known.map { ErrorCounterInfo(node: "api", name: $0.name, description: $0.help, count: counts[$0.reason, default: 0]) }
    }

    /// Adds one under `reason` ("peer", "timeout", "too-large", ...) and returns the new count.
    @discardableResult
    public func count(_ reason: String) -> UInt64 {
        lock.lock(); defer { lock.unlock() }
        counts[reason, default: 0] += 1
        return counts[reason]!
    }

    public subscript(reason: String) -> UInt64 {
        lock.lock(); defer { lock.unlock() }
        return counts[reason, default: 0]
    }
}
