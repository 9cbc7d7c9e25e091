import ArgumentParser
import WeftControl

struct UplinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uplink", abstract: "Set, show and clear the uplink (a routed port with a default route).",
        subcommands: [UplinkSet.self, UplinkShow.self, UplinkClear.self])

    static func render(_ uplink: UplinkRequest) -> String {
        var table = TextTable([.init("Name"), .init("Address"), .init("Gateway")])
        table.add([uplink.name, uplink.address, uplink.gateway ?? "-"])
        return table.render()
    }
}

struct UplinkSet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Use link NAME of weftd's namespace as the uplink (replaces any uplink).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Link name in weftd's namespace, e.g. eth1.") var name: String
    @Option(help: "IPv4 address with prefix length, e.g. 192.0.2.2/24.") var address: String
    @Option(help: "Upstream router: the default route goes via it.") var gateway: String?

    func run() throws {
        try reportingFailures {
            let response = try options.api.call("POST", "/v1/uplink", body: UplinkRequest(name: name, address: address, gateway: gateway))
            if options.json { return printJSON(response.body) }
            print(UplinkCommand.render(try options.api.decode(UplinkRequest.self, response)))
        }
    }
}

struct UplinkShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the uplink.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (uplink, raw) = try options.api.get("/v1/uplink", as: UplinkRequest.self)
            if options.json { return printJSON(raw) }
            print(UplinkCommand.render(uplink))
        }
    }
}

struct UplinkClear: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "Remove the uplink, its address and default route.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures { _ = try options.api.call("DELETE", "/v1/uplink") }
    }
}
