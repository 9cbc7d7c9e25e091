// The API's request and response bodies (docs/api/openapi.yaml), shared by
// weftd (WeftControl), weftctl and weft-cni.

/// Body of POST /v1/networks. Optional fields take the documented defaults.
public struct CreateNetworkRequest: Codable, Sendable, Equatable {
    public var name: String
    public var subnet: String
    public var mtu: Int?
    public var bridgeDomain: Int?
    public var macAgeSeconds: Int?
    public var learnLimit: Int?
    /// VXLAN network identifier: the network spans nodes through tunnels
    /// (`POST /v1/tunnels`); its MTU defaults to the uplink's minus 50.
    public var vni: Int?
    /// First and last address weftd's IPAM hands out in this network
    /// (default: the whole subnet after the gateway). Nodes sharing a
    /// spanning network give each node its own range.
    public var rangeStart: String?
    public var rangeEnd: String?
    /// Masquerade (NAT44) the network's hosts behind the uplink's address
    /// for destinations routed out of the uplink (the bridge plugin's ipMasq). Default false.
    public var masquerade: Bool?

    public init(name: String, subnet: String, mtu: Int? = nil, bridgeDomain: Int? = nil, macAgeSeconds: Int? = nil,
                learnLimit: Int? = nil, vni: Int? = nil, rangeStart: String? = nil, rangeEnd: String? = nil,
                masquerade: Bool? = nil) {
        self.name = name; self.subnet = subnet; self.mtu = mtu; self.bridgeDomain = bridgeDomain
        self.macAgeSeconds = macAgeSeconds; self.learnLimit = learnLimit
        self.vni = vni; self.rangeStart = rangeStart; self.rangeEnd = rangeEnd; self.masquerade = masquerade
    }
}

/// Body of POST /v1/attachments.
public struct CreateAttachmentRequest: Codable, Sendable, Equatable {
    public var containerId: String
    public var netns: String
    public var ifName: String?        // default eth0
    public var network: String
    public var mtu: Int?              // default: the network's MTU
    /// "10.1.0.7/24" (or without the prefix): use this address instead of
    /// leasing one from weftd's IPAM, e.g. one a CNI IPAM plugin handed out.
    public var address: String?
    /// Default route inside the container via this address of the subnet.
    public var gateway: String?
    /// "veth" (default): a veth pair; "tap": a TAP device weftd creates in
    /// the container and serves itself (no veth, no host-side kernel hop).
    public var attach: String?
    /// How the host end of a veth attachment is opened: "af-packet" (default) or "af-xdp".
    public var driver: String?
    /// Queues of a TAP attachment, 1...8 (default 1).
    public var queues: Int?
    /// Anti-spoofing (default true): frames only from the container's MAC,
    /// IPv4 and ARP only from its address. false for a container that
    /// routes or bridges other hosts' traffic.
    public var sourceGuard: Bool?

    public init(containerId: String, netns: String, ifName: String? = nil, network: String, mtu: Int? = nil,
                address: String? = nil, gateway: String? = nil, attach: String? = nil, driver: String? = nil, queues: Int? = nil,
                sourceGuard: Bool? = nil) {
        self.containerId = containerId; self.netns = netns; self.ifName = ifName; self.network = network; self.mtu = mtu
        self.address = address; self.gateway = gateway; self.attach = attach; self.driver = driver; self.queues = queues
        self.sourceGuard = sourceGuard
    }
}

/// Body of POST /v1/interfaces: bridge existing link `name` (in weftd's
/// namespace) into network `network`.
public struct AddInterfaceRequest: Codable, Sendable, Equatable {
    public var name: String
    public var network: String
    /// "af-packet" (default) or "af-xdp".
    public var driver: String?
    public init(name: String, network: String, driver: String? = nil) { self.name = name; self.network = network; self.driver = driver }
}

/// How a container interface is plugged in (CreateAttachmentRequest.attach).
public enum AttachMode: String, Codable, Sendable, CaseIterable {
    case veth, tap
}

/// Which driver opens a kernel link in the dataplane (AddInterfaceRequest.driver,
/// CreateAttachmentRequest.driver).
public enum PortDriver: String, Codable, Sendable, CaseIterable {
    case afPacket = "af-packet"
    case afXdp = "af-xdp"
}

/// Body of POST /v1/trace: trace the next `count` packets entering input node `node`.
public struct TraceAddRequest: Codable, Sendable, Equatable {
    public var node: String
    public var count: Int
    public init(node: String, count: Int) { self.node = node; self.count = count }
}

/// Body of GET /v1/health.
public struct HealthInfo: Codable, Sendable, Equatable {
    public var status: String
    public var version: String
    public init(status: String, version: String) { self.status = status; self.version = version }
}

/// Body of every 4xx/5xx response.
public struct ErrorResponse: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
        public var field: String?
        public init(code: String, message: String, field: String?) {
            self.code = code; self.message = message; self.field = field
        }
    }
    public var error: Detail
    public init(error: Detail) { self.error = error }
}

/// Body of POST /v1/routes (one element of POST /v1/routes/bulk) and of
/// its 201 response: `prefix` via `nextHop`, a host on a network's subnet.
public struct AddRouteRequest: Codable, Sendable, Equatable {
    public var prefix: String
    public var nextHop: String
    public init(prefix: String, nextHop: String) { self.prefix = prefix; self.nextHop = nextHop }
}

/// Body of POST /v1/routes/bulk (and its 201 response): validated all or
/// nothing, programmed under one barrier.
public struct BulkRoutesRequest: Codable, Sendable, Equatable {
    public var routes: [AddRouteRequest]
    public init(routes: [AddRouteRequest]) { self.routes = routes }
}

/// Body of POST /v1/uplink, and of GET /v1/uplink: link `name` of weftd's
/// namespace as a routed port with `address` ("192.0.2.2/24") and, with
/// `gateway`, the default route via it.
public struct UplinkRequest: Codable, Sendable, Equatable {
    public var name: String
    public var address: String
    public var gateway: String?
    public init(name: String, address: String, gateway: String? = nil) {
        self.name = name; self.address = address; self.gateway = gateway
    }
}
