import ArgumentParser
import WeftControl

struct TunnelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tunnel", abstract: "Add, list and delete VXLAN tunnels of networks that span nodes.",
        subcommands: [TunnelAdd.self, TunnelList.self, TunnelDelete.self])

    static func render(_ tunnels: [TunnelInfo]) -> String {
        var table = TextTable([.init("Name"), .init("Network"), .init("Local"), .init("Remote"), .init("VNI", .right),
                               .init("Port", .right), .init("MTU", .right), .init("Idx", .right),
                               .init("Rx pkts", .right), .init("Rx bytes", .right), .init("Tx pkts", .right),
                               .init("Tx bytes", .right), .init("Drops", .right)])
        for t in tunnels {
            table.add([t.name, t.network, t.local, t.remote, String(t.vni), String(t.port), String(t.mtu),
                       t.swIfIndex.map(String.init) ?? "-", String(t.rxPackets), String(t.rxBytes), String(t.txPackets),
                       String(t.txBytes), String(t.drops)])
        }
        return table.render()
    }
}

struct TunnelAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a VXLAN tunnel from this node's uplink address to a remote VTEP.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Network the tunnel carries.") var network: String
    @Option(help: "Remote VTEP: the other node's uplink address.") var remote: String
    @Option(help: "VXLAN network identifier (default: the network's).") var vni: Int?
    @Option(help: "UDP destination port (default 4789).") var port: Int?

    func run() throws {
        try reportingFailures {
            let request = CreateTunnelRequest(network: network, remote: remote, vni: vni, port: port)
            let response = try options.api.call("POST", "/v1/tunnels", body: request)
            if options.json { return printJSON(response.body) }
            print(TunnelCommand.render([try options.api.decode(TunnelInfo.self, response)]))
        }
    }
}

struct TunnelList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List VXLAN tunnels with their counters.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (tunnels, raw) = try options.api.get("/v1/tunnels", as: [TunnelInfo].self)
            if options.json { return printJSON(raw) }
            print(TunnelCommand.render(tunnels))
        }
    }
}

struct TunnelDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a VXLAN tunnel.",
                                                    aliases: ["del"])
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Tunnel name, e.g. vxlan_tunnel1.") var name: String

    func run() throws {
        try reportingFailures { _ = try options.api.call("DELETE", "/v1/tunnels/\(name.pathSegment)") }
    }
}

/// `show vxlan tunnels`, as VPP's `show vxlan tunnel`.
struct ShowVXLAN: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vxlan", abstract: "VXLAN state.",
                                                    subcommands: [ShowVXLANTunnels.self])
}

struct ShowVXLANTunnels: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tunnels", abstract: "VXLAN tunnels and their counters.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (tunnels, raw) = try options.api.get("/v1/tunnels", as: [TunnelInfo].self)
            if options.json { return printJSON(raw) }
            print(TunnelCommand.render(tunnels))
        }
    }
}
