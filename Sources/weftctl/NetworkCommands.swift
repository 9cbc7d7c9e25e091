import Foundation
import ArgumentParser
import WeftControl

struct NetworkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", abstract: "Create, list and delete networks.",
        subcommands: [NetworkCreate.self, NetworkList.self, NetworkDelete.self])

    static func render(_ networks: [NetworkInfo]) -> String {
        var table = TextTable([.init("Name"), .init("BD", .right), .init("Subnet"), .init("MTU", .right),
                               .init("MAC age(s)", .right), .init("Learn limit", .right), .init("VNI", .right),
                               .init("IPAM range"), .init("Remote VTEPs"), .init("Masq"), .init("VRF", .right)])
        for network in networks {
            let range = network.rangeStart.map { "\($0)-\(network.rangeEnd ?? "")" } ?? "-"
            let remotes = network.remoteVteps.map { $0.isEmpty ? "-" : $0.joined(separator: ",") } ?? "-"
            table.add([network.name, String(network.bridgeDomain), network.subnet, String(network.mtu),
                       String(network.macAgeSeconds), String(network.learnLimit), network.vni.map(String.init) ?? "-",
                       range, remotes, network.masquerade == true ? "yes" : "no", String(network.vrf ?? 0)])
        }
        return table.render()
    }
}

struct NetworkCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a network (an L2 bridge domain with an IPv4 subnet).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Network name: a-z, 0-9 and '-', up to 32 characters.") var name: String
    @Option(help: "IPv4 subnet in CIDR notation, /8 to /30 (e.g. 10.1.0.0/24).") var subnet: String
    @Option(help: "MTU, 576 to 1900 (default 1500).") var mtu: Int?
    @Option(name: .customLong("bridge-domain"), help: "Bridge domain id (default: lowest free from 1).") var bridgeDomain: Int?
    @Option(name: .customLong("mac-age"), help: "Seconds before an idle MAC is forgotten (default 300).") var macAge: Int?
    @Option(name: .customLong("learn-limit"), help: "Most MACs learned in this network (default 4096).") var learnLimit: Int?
    @Option(help: "VXLAN network identifier: the network spans nodes (MTU default: the uplink's minus 50).") var vni: Int?
    @Option(name: .customLong("range-start"), help: "First address this node's IPAM hands out.") var rangeStart: String?
    @Option(name: .customLong("range-end"), help: "Last address this node's IPAM hands out.") var rangeEnd: String?
    @Flag(help: "Masquerade (NAT44) the network's hosts behind the uplink's address.") var masquerade = false
    @Option(help: "VRF (FIB table, 0 to 1023, default 0): networks of different VRFs are isolated and may overlap.") var vrf: Int?

    func run() throws {
        try reportingFailures {
            let request = CreateNetworkRequest(name: name, subnet: subnet, mtu: mtu, bridgeDomain: bridgeDomain,
                                               macAgeSeconds: macAge, learnLimit: learnLimit, vni: vni,
                                               rangeStart: rangeStart, rangeEnd: rangeEnd, masquerade: masquerade ? true : nil,
                                               vrf: vrf)
            let response = try options.api.call("POST", "/v1/networks", body: request)
            if options.json { return printJSON(response.body) }
            print(NetworkCommand.render([try options.api.decode(NetworkInfo.self, response)]))
        }
    }
}

struct NetworkList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List networks.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (networks, raw) = try options.api.get("/v1/networks", as: [NetworkInfo].self)
            if options.json { return printJSON(raw) }
            print(NetworkCommand.render(networks))
        }
    }
}

struct NetworkDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a network that has no attachments.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Network name.") var name: String

    func run() throws {
        try reportingFailures { _ = try options.api.call("DELETE", "/v1/networks/\(name.pathSegment)") }
    }
}

extension String {
    /// Percent-encodes a value for use as one URL path segment.
    var pathSegment: String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return addingPercentEncoding(withAllowedCharacters: allowed) ?? self
    }
}
