import ArgumentParser
import WeftControl

/// weftctl: the operator's CLI for weftd, speaking the HTTP+JSON API over
/// the unix socket. Command names follow VPP's CLI (`show runtime`,
/// `trace add`, `show bridge-domain 1 detail`).
@main
struct WeftCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weftctl",
        abstract: "Inspect and configure the Weft dataplane daemon (weftd).",
        discussion: """
            Global options --socket PATH (or WEFT_SOCKET) and --json may be given before or after the command.
            Exit status: 0 success, 1 weftd rejected the request, 2 weftd could not be reached.
            """,
        version: WeftVersion.current,
        subcommands: [Show.self, Trace.self, Clear.self, NetworkCommand.self, InterfaceCommand.self, RouteCommand.self, UplinkCommand.self, TunnelCommand.self, NATCommand.self, CaptureCommand.self, ReplayCommand.self, Attach.self, Detach.self])

    static func main() {
        // ArgumentParser only accepts a subcommand's options after the
        // subcommand; let `weftctl --socket X show runtime` work as people type it.
        main(GlobalOptions.movingLeadingGlobalsToEnd(Array(CommandLine.arguments.dropFirst())))
    }
}
