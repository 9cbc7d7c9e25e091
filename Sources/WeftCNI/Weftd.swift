// weftd's API as weft-cni uses it, with every failure turned into the CNI
// error a runtime can act on: unreachable -> 50 (or 11 where the runtime
// must retry, DEL and GC), busy or restarting -> 11, a refusal -> the code
// that names what to fix.
import WeftClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct Weftd {
    let client: UnixHTTPClient
    /// Code for "nobody answers on the socket": 50 for ADD/CHECK/STATUS
    /// (the plugin cannot serve), 11 for DEL/GC (the runtime must retry
    /// until weftd is back, or the attachment and its lease would leak).
    let unreachableCode: Int

    init(socket: String, unreachableCode: Int, timeoutSeconds: Int = 30) {
        client = UnixHTTPClient(socketPath: socket, timeoutSeconds: timeoutSeconds)
        self.unreachableCode = unreachableCode
    }

    struct Reply {
        var status: Int
        var body: [UInt8]
        var error: ErrorResponse.Detail?

        var ok: Bool { (200..<300).contains(status) }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do {
                return try JSONDecoder().decode(type, from: Data(body))
            } catch {
                throw CNIError(CNIError.weftdFailed,
                               "weftd answered something weft-cni does not understand (are weftd and weft-cni the same version?)",
                               details: "\(error)")
            }
        }
    }

    func send(_ method: String, _ path: String, body: [UInt8]? = nil) throws -> Reply {
        let response: UnixHTTPClient.Response
        do {
            response = try client.send(method: method, path: path, body: body, userAgent: "weft-cni")
        } catch let failure as UnixHTTPClient.ClientError {
            switch failure {
            case .cannotConnect(let path, let reason):
                let retry = unreachableCode == CNIError.tryAgainLater ? " (nothing was removed; retry once weftd runs)" : ""
                throw CNIError(unreachableCode,
                               "weftd is not reachable at \(path): \(reason); start weftd, or point \"socket\" in the network configuration at its API socket\(retry)")
            case .exchangeFailed(let path, let reason):
                throw CNIError(CNIError.tryAgainLater,
                               "weftd at \(path) did not answer (\(reason)); it may be busy or restarting, try again later")
            }
        }
        var reply = Reply(status: response.status, body: response.body)
        if !reply.ok {
            reply.error = try? JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)).error
            if reply.status >= 500, reply.error?.code == "control_unavailable" || reply.error == nil {
                throw CNIError(CNIError.tryAgainLater,
                               "weftd is busy or shutting down (HTTP \(reply.status)); try again later",
                               details: reply.error?.message ?? String(decoding: response.body.prefix(200), as: UTF8.self))
            }
        }
        return reply
    }

    func post<T: Encodable>(_ path: String, _ value: T) throws -> Reply {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body: [UInt8]
        do { body = Array(try encoder.encode(value)) } catch {
            throw CNIError(CNIError.weftdFailed, "cannot encode the request to weftd: \(error)")
        }
        return try send("POST", path, body: body)
    }

    /// The CNI error for a refusal. Fields weftd names map back to where
    /// they came from: the environment (code 4) or the configuration (7).
    static func error(_ reply: Reply, doing what: String) -> CNIError {
        let detail = reply.error
        let message = detail?.message ?? "HTTP \(reply.status)"
        let details = "weftd: HTTP \(reply.status)" + (detail.map { " \($0.code)" } ?? "")
            + (detail?.field.map { ", field \($0)" } ?? "")
        switch (reply.status, detail?.code ?? "", detail?.field ?? "") {
        case (400, _, "containerId"):
            return CNIError(CNIError.invalidEnvironment, "CNI_CONTAINERID: \(message)", details: details)
        case (400, _, "ifName"):
            return CNIError(CNIError.invalidEnvironment, "CNI_IFNAME: \(message)", details: details)
        case (400, _, "netns"):
            return CNIError(CNIError.invalidEnvironment, "CNI_NETNS: \(message)", details: details)
        case (400, _, "address"), (409, "address_taken", _):
            return CNIError(CNIError.invalidConfig, "\(what): \(message)", details: details)
        case (400, _, _), (404, "network_not_found", _):
            return CNIError(CNIError.invalidConfig, "\(what): \(message)", details: details)
        case (404, _, _), (405, _, _):
            return CNIError(CNIError.weftdFailed,
                            "\(what): weftd does not know this request (\(message)); upgrade weftd to the version of weft-cni",
                            details: details)
        case (409, _, _):
            return CNIError(CNIError.weftdRefused, "\(what): \(message)", details: details)
        case (503, _, _):
            // Out of a resource (file descriptors) and nothing was built: the runtime may retry.
            return CNIError(CNIError.tryAgainLater, "\(what): \(message)", details: details)
        default:
            return CNIError(CNIError.weftdFailed, "\(what): \(message)", details: details)
        }
    }
}

extension String {
    /// Percent-encodes one URL path segment (container ids may hold '.').
    var pathSegment: String {
        var out = ""
        for byte in utf8 {
            let safe = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "~")
            if safe {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}
