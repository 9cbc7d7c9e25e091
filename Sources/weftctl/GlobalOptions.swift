import ArgumentParser
import Foundation
import WeftControl

/// Options every weftctl command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Path of weftd's API socket (env WEFT_SOCKET).", valueName: "path"))
    var socket: String = ProcessInfo.processInfo.environment["WEFT_SOCKET"] ?? WeftConfig.defaultSocketPath

    @Flag(name: .long, help: "Print weftd's JSON answer instead of a table.")
    var json = false

    var api: WeftAPI { WeftAPI(client: UnixHTTPClient(socketPath: socket)) }

    /// Moves `--socket X`, `--socket=X` and `--json` given before the first
    /// command word to the end of the argument list.
    static func movingLeadingGlobalsToEnd(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--json" || argument.hasPrefix("--socket=") {
                globals.append(argument)
                index += 1
            } else if argument == "--socket", index + 1 < arguments.count {
                globals += [argument, arguments[index + 1]]
                index += 2
            } else {
                break
            }
        }
        return Array(arguments[index...]) + globals
    }
}
