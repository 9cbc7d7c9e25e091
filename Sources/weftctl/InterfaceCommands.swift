import ArgumentParser
import WeftControl

struct InterfaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interface",
        abstract: "Bridge interfaces that already exist in weftd's namespace into networks.",
        subcommands: [InterfaceAdd.self, InterfaceDelete.self])

    /// The `show interfaces` table.
    static func render(_ interfaces: [InterfaceInfo]) -> String {
        var table = TextTable([.init("Name"), .init("Idx", .right), .init("Driver"), .init("Mode"), .init("Queues", .right),
                               .init("Rings rx/tx"), .init("State"),
                               .init("MTU", .right), .init("BD", .right), .init("MAC"),
                               .init("Rx packets", .right), .init("Rx bytes", .right),
                               .init("Tx packets", .right), .init("Tx bytes", .right), .init("Drops", .right),
                               .init("Offloads")])
        for interface in interfaces.sorted(by: { $0.index < $1.index }) {
            let rings = interface.rxRingSize == nil && interface.txRingSize == nil ? "-"
                : "\(interface.rxRingSize.map(String.init) ?? "-")/\(interface.txRingSize.map(String.init) ?? "-")"
            table.add([interface.name, String(interface.index), interface.driver, interface.mode ?? "-",
                       interface.queues.map(String.init) ?? "-", rings, interface.up ? "up" : "down",
                       String(interface.mtu), interface.bridgeDomain.map(String.init) ?? "-", interface.mac,
                       String(interface.rxPackets), String(interface.rxBytes), String(interface.txPackets),
                       String(interface.txBytes), String(interface.drops),
                       interface.offloads.map { $0.isEmpty ? "-" : $0.joined(separator: ",") } ?? "-"])
        }
        return table.render()
    }
}

struct InterfaceAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Open an existing interface of weftd's namespace (AF_PACKET or AF_XDP) in a network's bridge domain; kept across restarts.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Interface name in weftd's network namespace, e.g. d0.") var name: String
    @Option(help: "Network name.") var network: String
    @Option(help: "af-packet (default) or af-xdp.") var driver: String?

    func run() throws {
        try reportingFailures {
            let response = try options.api.call("POST", "/v1/interfaces",
                                                 body: AddInterfaceRequest(name: name, network: network, driver: driver))
            if options.json { return printJSON(response.body) }
            print(InterfaceCommand.render([try options.api.decode(InterfaceInfo.self, response)]))
        }
    }
}

struct InterfaceDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Take an interface added with `interface add` out of the dataplane (the link itself is left alone).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Interface name.") var name: String

    func run() throws {
        try reportingFailures { _ = try options.api.call("DELETE", "/v1/interfaces/\(name.pathSegment)") }
    }
}
