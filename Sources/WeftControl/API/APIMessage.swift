import Foundation

/// An HTTP request as the router sees it: decoded from the wire by the NIO
/// handler, handled on the control thread.
public struct APIRequest: Sendable {
    public var method: String          // "GET", "POST", ...
    public var path: String            // without the query, e.g. "/v1/networks/blue"
    public var query: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, query: [String: String] = [:], body: [UInt8] = []) {
        self.method = method; self.path = path; self.query = query; self.body = body
    }

    /// Splits a request target ("/v1/bridge-domains/1?detail=true") into a
    /// percent-decoded path and query parameters.
    public init(method: String, target: String, body: [UInt8]) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(keyValue[0]).removingPercentEncoding ?? String(keyValue[0])
                let value = keyValue.count == 2 ? (String(keyValue[1]).removingPercentEncoding ?? String(keyValue[1])) : ""
                query[key] = value
            }
        }
        self.init(method: method, path: String(parts[0]), query: query, body: body)
    }
}

/// The router's answer: a status and an optional JSON body.
public struct APIResponse: Sendable {
    public var status: Int
    public var body: [UInt8]?
    public var headers: [(String, String)]

    public init(status: Int, body: [UInt8]? = nil, headers: [(String, String)] = []) {
        self.status = status; self.body = body; self.headers = headers
    }

    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> APIResponse {
        do {
            return APIResponse(status: status, body: try APIJSON.encode(value))
        } catch {
            return .error(ControlError(.internal, code: "encoding_failed", message: "could not encode the response: \(error)"))
        }
    }

    public static let noContent = APIResponse(status: 204)

    public static func error(_ error: ControlError, headers: [(String, String)] = []) -> APIResponse {
        // Encoding three strings cannot fail; the fallback only keeps this total.
        let body = (try? APIJSON.encode(ErrorResponse(error))) ?? Array(#"{"error":{"code":"internal","message":"error"}}"#.utf8)
        return APIResponse(status: error.httpStatus, body: body, headers: headers)
    }
}
