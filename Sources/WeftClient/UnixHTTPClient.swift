#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small blocking HTTP/1.1 client for weftd's unix socket: one request per
/// connection (Connection: close), response framed by Content-Length or by
/// the server closing. Used by weftctl, weft-cni and the API tests. Needs
/// only the standard library and libc, so weft-cni stays small.
public struct UnixHTTPClient: Sendable {
    public let socketPath: String
    public var timeoutSeconds: Int

    public init(socketPath: String, timeoutSeconds: Int = 60) {
        self.socketPath = socketPath
        self.timeoutSeconds = timeoutSeconds
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    public enum ClientError: Error, CustomStringConvertible {
        /// weftd is not reachable: no socket, nobody listening, no permission.
        case cannotConnect(path: String, reason: String)
        /// Connected, but the exchange failed or the answer is not HTTP.
        case exchangeFailed(path: String, reason: String)

        public var description: String {
            switch self {
            case .cannotConnect(let path, let reason):
                return "cannot connect to weftd at \(path): \(reason) (is weftd running? set --socket or WEFT_SOCKET)"
            case .exchangeFailed(let path, let reason):
                return "request to weftd at \(path) failed: \(reason)"
            }
        }
    }

    public func send(method: String, path: String, body: [UInt8]? = nil,
                     extraHeaders: [(String, String)] = [], userAgent: String = "weftctl") throws -> Response {
        let fd: Int32
        do {
            fd = try UnixSocket.connect(path: socketPath, timeoutSeconds: timeoutSeconds)
        } catch let failure as UnixSocket.Failure {
            throw ClientError.cannotConnect(path: socketPath, reason: String(cString: strerror(failure.errno)))
        }
        defer { close(fd) }

        var head = "\(method) \(path) HTTP/1.1\r\nHost: weftd\r\nUser-Agent: \(userAgent)/\(WeftVersion.current)\r\n"
        head += "Accept: application/json\r\nConnection: close\r\n"
        if let body {
            head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        } else if method == "POST" || method == "PUT" {
            head += "Content-Length: 0\r\n"
        }
        for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        do {
            do {
                try UnixSocket.writeAll(fd, Array(head.utf8) + (body ?? []))
            } catch let failure as UnixSocket.Failure where failure.errno == EPIPE || failure.errno == ECONNRESET {
                // The server may answer early and hang up (413 for an
                // oversized body): its answer is still ours to read.
                if let early = try? Self.parse(try Self.readResponse(fd)) { return early }
                throw failure
            }
            return try Self.parse(try Self.readResponse(fd))
        } catch let failure as UnixSocket.Failure {
            throw ClientError.exchangeFailed(path: socketPath, reason: failure.description)
        } catch let malformed as MalformedResponse {
            throw ClientError.exchangeFailed(path: socketPath, reason: malformed.reason)
        }
    }

    struct MalformedResponse: Error { var reason: String }

    /// Reads one response: up to the end of its Content-Length body, or to
    /// the server's close when it has none. Not waiting for the close saves
    /// the server's connection teardown (milliseconds on a busy node) on
    /// every weft-cni call.
    static func readResponse(_ fd: Int32) throws -> [UInt8] {
        try UnixSocket.read(fd) { raw in
            guard let headEnd = findHeaderEnd(raw), let length = contentLength(raw[0..<headEnd]) else { return false }
            return raw.count >= headEnd + 4 + length
        }
    }

    /// The Content-Length of a header block, if it has one.
    static func contentLength(_ head: ArraySlice<UInt8>) -> Int? {
        for line in splitLines(head) {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "content-length" else { continue }
            return Int(trimmed(line[line.index(after: colon)...]))
        }
        return nil
    }

    /// Parses a complete HTTP/1.1 response as read from the socket.
    public static func parse(_ raw: [UInt8]) throws -> Response {
        guard let headEnd = findHeaderEnd(raw) else {
            throw MalformedResponse(reason: raw.isEmpty ? "connection closed without a response" : "response has no complete header")
        }
        var lines = splitLines(raw[0..<headEnd])
        let statusLine = lines.removeFirst()
        let statusParts = statusLine.split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw MalformedResponse(reason: "not an HTTP response: \(statusLine)")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), trimmed(line[line.index(after: colon)...])))
        }
        var body = Array(raw[(headEnd + 4)...])
        let response = Response(status: status, headers: headers, body: [])
        if let length = response.header("content-length").flatMap(Int.init) {
            guard body.count >= length else {
                throw MalformedResponse(reason: "response body truncated (\(body.count) of \(length) bytes)")
            }
            body = Array(body[0..<length])
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// The header block split at CRLF.
    private static func splitLines(_ bytes: ArraySlice<UInt8>) -> [String] {
        var lines: [String] = []
        var start = bytes.startIndex
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == 13, index + 1 < bytes.endIndex, bytes[index + 1] == 10 {
                lines.append(String(decoding: bytes[start..<index], as: UTF8.self))
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        lines.append(String(decoding: bytes[start..<bytes.endIndex], as: UTF8.self))
        return lines
    }

    private static func trimmed(_ text: Substring) -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isBlank($0) }), let last = text.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return String(text[first...last])
    }

    private static func findHeaderEnd(_ raw: [UInt8]) -> Int? {
        guard raw.count >= 4 else { return nil }
        for index in 0...(raw.count - 4)
        where raw[index] == 13 && raw[index + 1] == 10 && raw[index + 2] == 13 && raw[index + 3] == 10 {
            return index
        }
        return nil
    }
}
