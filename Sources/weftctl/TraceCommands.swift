import ArgumentParser
import WeftControl

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Trace packets through the graph (see them with `show trace`).",
        subcommands: [TraceAdd.self, TraceClear.self])
}

struct TraceAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Trace the next COUNT packets entering input node NODE (e.g. af-packet-input).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Input node name.") var node: String
    @Argument(help: "Number of packets to trace.") var count: Int

    func run() throws {
        try reportingFailures {
            _ = try options.api.call("POST", "/v1/trace", body: TraceAddRequest(node: node, count: count))
        }
    }
}

struct TraceClear: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "Stop tracing and drop traced packets.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures { _ = try options.api.call("DELETE", "/v1/trace") }
    }
}

struct Clear: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reset counters.", subcommands: [ClearRuntime.self])
}

struct ClearRuntime: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runtime", abstract: "Zero the per-node runtime statistics.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures { _ = try options.api.call("POST", "/v1/runtime/clear") }
    }
}
