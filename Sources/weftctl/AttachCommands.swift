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
    @Option(help: "Limit what the container receives, in bits/s (needs --ingress-burst).") var ingressRate: Int64?
    @Option(help: "Burst of the ingress limit, in bits.") var ingressBurst: Int64?
    @Option(help: "Limit what the container sends, in bits/s (needs --egress-burst).") var egressRate: Int64?
    @Option(help: "Burst of the egress limit, in bits.") var egressBurst: Int64?

    /// The four options as the API's `bandwidth` (nil when none is given;
    /// weftd checks the combinations).
    var bandwidth: BandwidthLimits? {
        let limits = BandwidthLimits(ingressRate: ingressRate, ingressBurst: ingressBurst,
                                     egressRate: egressRate, egressBurst: egressBurst)
        return limits.isEmpty ? nil : limits
    }

    func run() throws {
        try reportingFailures {
            let request = CreateAttachmentRequest(containerId: containerId, netns: netns, ifName: ifName,
                                                  network: network, mtu: mtu, address: address, gateway: gateway,
                                                  attach: attach, driver: driver, queues: queues,
                                                  sourceGuard: noSourceGuard ? false : nil, bandwidth: bandwidth)
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
            ("bandwidth", attachment.bandwidth.map(\.summary) ?? "unlimited"),
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

struct ShowAttachments: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attachments", abstract: "Container attachments: address, interface, driver and bandwidth limits.")
    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingFailures {
            let (attachments, raw) = try options.api.get("/v1/attachments", as: [AttachmentInfo].self)
            if options.json { return printJSON(raw) }
            print(Self.render(attachments))
        }
    }

    static func render(_ attachments: [AttachmentInfo]) -> String {
        var table = TextTable([.init("Container"), .init("If"), .init("Network"), .init("Address"), .init("Host interface"),
                               .init("Idx", .right), .init("Attach"), .init("Bandwidth")])
        for a in attachments {
            table.add([a.containerId, a.ifName, a.network, a.address, a.hostIfName, a.swIfIndex.map(String.init) ?? "-",
                       [a.attach ?? "veth", a.driver].compactMap { $0 }.joined(separator: "/"),
                       a.bandwidth.map(\.summary) ?? "unlimited"])
        }
        return table.render()
    }
}
