import ArgumentParser
import WeftControl

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach a container's network namespace to a network (creates a veth, leases an address).")
    @OptionGroup var options: GlobalOptions
    @Option(name: .customLong("container"), help: "Container id.") var containerId: String
    @Option(help: "Network namespace path, e.g. /var/run/netns/ctr1 or /proc/PID/ns/net.") var netns: String
    @Option(name: .customLong("ifname"), help: "Interface name inside the container.") var ifName: String = FieldRules.defaultIfName
    @Option(help: "Network name.") var network: String
    @Option(help: "MTU (default: the network's).") var mtu: Int?
    @Option(help: "Use this address (e.g. 10.50.0.7/24) instead of one from weftd's IPAM.") var address: String?
    @Option(help: "Default route inside the container via this address of the subnet.") var gateway: String?
    @Option(help: "veth (default) or tap: a TAP device in the container that weftd serves itself.") var attach: String?
    @Option(help: "How the veth's host end is opened: af-packet (default) or af-xdp.") var driver: String?
    @Option(help: "TAP queues, 1-8 (tap only).") var queues: Int?
    @Flag(help: "Let the container send from other MACs and addresses (off by default: anti-spoofing).") var noSourceGuard = false

    func run() throws {
        try reportingFailures {
            let request = CreateAttachmentRequest(containerId: containerId, netns: netns, ifName: ifName,
                                                  network: network, mtu: mtu, address: address, gateway: gateway,
                                                  attach: attach, driver: driver, queues: queues,
                                                  sourceGuard: noSourceGuard ? false : nil)
            let response = try options.api.call("POST", "/v1/attachments", body: request)
            if options.json { return printJSON(response.body) }
            print(Self.render(try options.api.decode(AttachmentInfo.self, response)))
        }
    }

    static func render(_ attachment: AttachmentInfo) -> String {
        let index = attachment.swIfIndex.map { " (sw_if_index \($0))" } ?? " (not in the dataplane)"
        let rows: [(String, String)] = [
            ("container", attachment.containerId),
            ("interface", attachment.ifName),
            ("network", attachment.network),
            ("address", attachment.address + (attachment.ipam == .external ? " (external)" : "")),
            ("gateway", attachment.gateway ?? "-"),
            ("mac", attachment.mac),
            ("mtu", String(attachment.mtu)),
            ("attach", [attachment.attach ?? "veth", attachment.driver, attachment.queues.map { "\($0) queue(s)" }]
                .compactMap { $0 }.joined(separator: ", ")),
            ("source guard", attachment.sourceGuard == false ? "off" : "on (only its MAC and address)"),
            ("host interface", attachment.hostIfName + index),
            ("netns", attachment.netns),
            ("created", attachment.createdAt),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0 + String(repeating: " ", count: width - $0.0.count) + "  " + $0.1 }
            .joined(separator: "\n")
    }
}

struct Detach: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Detach a container interface and release its address.")
    @OptionGroup var options: GlobalOptions
    @Option(name: .customLong("container"), help: "Container id.") var containerId: String
    @Option(name: .customLong("ifname"), help: "Interface name inside the container.") var ifName: String = FieldRules.defaultIfName

    func run() throws {
        try reportingFailures {
            _ = try options.api.call("DELETE", "/v1/attachments/\(containerId.pathSegment)/\(ifName.pathSegment)")
        }
    }
}
