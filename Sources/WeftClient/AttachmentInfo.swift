/// An attachment as the API returns it.
public struct AttachmentInfo: Codable, Sendable, Equatable {
    /// Where an attachment's address came from.
    public enum IPAM: String, Codable, Sendable {
        /// Leased by weftd from the network's subnet; freed on detach.
        case weft
        /// Given in the request (e.g. by a CNI IPAM plugin); weftd only records it.
        case external
    }

    public var containerId: String
    public var ifName: String
    public var network: String
    public var netns: String
    public var hostIfName: String
    public var hostMac: String?       // host end; nil when the dataplane does not have the interface open
    public var mac: String            // container end
    public var address: String        // with prefix, "10.1.0.2/24"
    public var gateway: String?       // default route inside the container, if one was requested
    public var ipam: IPAM
    public var mtu: Int
    public var swIfIndex: UInt32?     // nil when the dataplane does not have the interface open
    public var createdAt: String      // RFC 3339, UTC
    /// "veth" or "tap"; the driver serving it ("af-packet", "af-xdp", "tap"); TAP queues.
    public var attach: String?
    public var driver: String?
    public var queues: Int?
    /// Anti-spoofing on (frames only from `mac`, IPv4/ARP only from `address`).
    public var sourceGuard: Bool?
    /// Bandwidth limits the dataplane enforces; nil when none.
    public var bandwidth: BandwidthLimits?

    public init(containerId: String, ifName: String, network: String, netns: String, hostIfName: String,
                hostMac: String? = nil, mac: String, address: String, gateway: String? = nil, ipam: IPAM = .weft,
                mtu: Int, swIfIndex: UInt32?, createdAt: String, attach: String? = nil, driver: String? = nil, queues: Int? = nil,
                sourceGuard: Bool? = nil, bandwidth: BandwidthLimits? = nil) {
        self.containerId = containerId; self.ifName = ifName; self.network = network; self.netns = netns
        self.hostIfName = hostIfName; self.hostMac = hostMac; self.mac = mac; self.address = address
        self.gateway = gateway; self.ipam = ipam; self.mtu = mtu; self.swIfIndex = swIfIndex; self.createdAt = createdAt
        self.attach = attach; self.driver = driver; self.queues = queues; self.sourceGuard = sourceGuard
        self.bandwidth = bandwidth
    }
}
