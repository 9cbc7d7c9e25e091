import ArgumentParser
import Foundation
import WeftControl

/// weftctl's view of the API: sends a request, and turns failures into the
/// CLI's contract — API errors print `weftctl: <message>` and exit 1, an
/// unreachable daemon prints a message naming the socket and exits 2.
struct WeftAPI {
    let client: UnixHTTPClient

    /// Sends a JSON body and returns the raw successful response.
    func call<Body: Encodable>(_ method: String, _ path: String, body: Body) throws -> UnixHTTPClient.Response {
        let payload: [UInt8]
        do {
            payload = try APIJSON.encode(body)
        } catch {
            throw CLIFailure.apiError("cannot encode the request: \(error)")
        }
        return try call(method, path, payload: payload)
    }

    /// Sends a request (with an optional raw body) and returns the raw successful response.
    func call(_ method: String, _ path: String, payload: [UInt8]? = nil) throws -> UnixHTTPClient.Response {
        let response: UnixHTTPClient.Response
        do {
            response = try client.send(method: method, path: path, body: payload)
        } catch let error as UnixHTTPClient.ClientError {
            throw CLIFailure.unreachable(error.description)
        }
        guard (200..<300).contains(response.status) else {
            if let failure = try? JSONDecoder().decode(ErrorResponse.self, from: Data(response.body)) {
                throw CLIFailure.apiError(failure.error.message)
            }
            throw CLIFailure.apiError("weftd answered HTTP \(response.status): \(response.bodyText)")
        }
        return response
    }

    /// GET and decode, returning the raw body too for --json.
    func get<T: Decodable>(_ path: String, as type: T.Type) throws -> (T, [UInt8]) {
        let response = try call("GET", path)
        return (try decode(type, response), response.body)
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: UnixHTTPClient.Response) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(response.body))
        } catch {
            throw CLIFailure.apiError("unexpected answer from weftd (version mismatch?): \(error)")
        }
    }
}

/// Failures that end weftctl with a message and a documented exit status.
enum CLIFailure: Error {
    case apiError(String)      // exit 1
    case unreachable(String)   // exit 2
}

extension ParsableCommand {
    /// Runs a command body, mapping CLIFailure to stderr + exit status.
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as CLIFailure {
            switch failure {
            case .apiError(let message):
                printError("weftctl: \(message)")
                throw ExitCode(1)
            case .unreachable(let message):
                printError("weftctl: \(message)")
                throw ExitCode(2)
            }
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Prints an API body as received (already sorted-key JSON).
func printJSON(_ body: [UInt8]) {
    print(String(decoding: body, as: UTF8.self))
}
