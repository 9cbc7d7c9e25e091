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
    /// VRF (FIB table id, 0...1023, default 0) of the network's gateway:
    /// its connected and local routes live in that table and what its
    /// containers send is routed there. Networks in different VRFs do not
    /// reach each other and may have overlapping subnets.
    public var vrf: Int?

    public init(name: String, subnet: String, mtu: Int? = nil, bridgeDomain: Int? = nil, macAgeSeconds: Int? = nil,
                learnLimit: Int? = nil, vni: Int? = nil, rangeStart: String? = nil, rangeEnd: String? = nil,
                masquerade: Bool? = nil, vrf: Int? = nil) {
        self.name = name; self.subnet = subnet; self.mtu = mtu; self.bridgeDomain = bridgeDomain
        self.macAgeSeconds = macAgeSeconds; self.learnLimit = learnLimit
        self.vni = vni; self.rangeStart = rangeStart; self.rangeEnd = rangeEnd; self.masquerade = masquerade
        self.vrf = vrf
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
    /// Bandwidth limits enforced by the dataplane (CNI's runtimeConfig.bandwidth).
    public var bandwidth: BandwidthLimits?

    public init(containerId: String, netns: String, ifName: String? = nil, network: String, mtu: Int? = nil,
                address: String? = nil, gateway: String? = nil, attach: String? = nil, driver: String? = nil, queues: Int? = nil,
                sourceGuard: Bool? = nil, bandwidth: BandwidthLimits? = nil) {
        self.containerId = containerId; self.netns = netns; self.ifName = ifName; self.network = network; self.mtu = mtu
        self.address = address; self.gateway = gateway; self.attach = attach; self.driver = driver; self.queues = queues
        self.sourceGuard = sourceGuard; self.bandwidth = bandwidth
    }
}

/// Bandwidth limits of an attachment, in the CNI bandwidth convention: rates
/// in bits per second, bursts in bits. Ingress is what the container
/// receives, egress what it sends. A direction is limited when its rate is
/// given, and then its burst must be given too; every value is > 0.
/// weftd polices in its dataplane (token bucket, excess frames dropped).
public struct BandwidthLimits: Codable, Sendable, Equatable {
    public var ingressRate: Int64?
    public var ingressBurst: Int64?
    public var egressRate: Int64?
    public var egressBurst: Int64?
    public init(ingressRate: Int64? = nil, ingressBurst: Int64? = nil, egressRate: Int64? = nil, egressBurst: Int64? = nil) {
        self.ingressRate = ingressRate; self.ingressBurst = ingressBurst
        self.egressRate = egressRate; self.egressBurst = egressBurst
    }
    /// Neither direction limited.
    public var isEmpty: Bool { ingressRate == nil && ingressBurst == nil && egressRate == nil && egressBurst == nil }

    /// "in 20Mbit/s burst 1Mbit, out -" for tables.
    public var summary: String {
        func side(_ rate: Int64?, _ burst: Int64?) -> String {
            guard let rate else { return "-" }
            return "\(Self.format(rate))/s burst \(burst.map(Self.format) ?? "?")"
        }
        return "in \(side(ingressRate, ingressBurst)), out \(side(egressRate, egressBurst))"
    }

    /// Bits as "20Mbit", "1.5Gbit", "800kbit", "100bit" (SI, as tc prints them).
    public static func format(_ bits: Int64) -> String {
        let units: [(Int64, String)] = [(1_000_000_000, "Gbit"), (1_000_000, "Mbit"), (1_000, "kbit")]
        for (scale, unit) in units where bits >= scale {
            if bits % scale == 0 { return "\(bits / scale)\(unit)" }
            let tenths = (bits * 10 + scale / 2) / scale
            return "\(tenths / 10).\(tenths % 10)\(unit)"
        }
        return "\(bits)bit"
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
/// its 201 response: `prefix` via `nextHop`, a host on a subnet of a network
/// in the same VRF (or the uplink's, VRF 0). `vrf` is the FIB table (default
/// 0; omitted from answers when 0).
public struct AddRouteRequest: Codable, Sendable, Equatable {
    public var prefix: String
    public var nextHop: String
    public var vrf: Int?
    public init(prefix: String, nextHop: String, vrf: Int? = nil) {
        self.prefix = prefix; self.nextHop = nextHop; self.vrf = vrf == 0 ? nil : vrf
    }
}

/// Body of POST /v1/routes/bulk: validated all or nothing, recorded in one
/// transaction, programmed in slices of a few thousand routes per barrier.
/// The routes come as `routes` (objects) and/or `text`, the compact form
/// for large loads: one `prefix next-hop` (or `prefix via next-hop`) per
/// line, `#` comments, the format of `weftctl route load`. `vrf` applies to
/// the lines of `text` and to the objects that give none. `firstLine` is
/// the file line number of the first line of `text` (error messages; a
/// client sending a file in several requests).
public struct BulkRoutesRequest: Codable, Sendable, Equatable {
    public var routes: [AddRouteRequest]?
    public var text: String?
    public var vrf: Int?
    public var firstLine: Int?
    public init(routes: [AddRouteRequest]? = nil, text: String? = nil, vrf: Int? = nil, firstLine: Int? = nil) {
        self.routes = routes; self.text = text; self.vrf = vrf; self.firstLine = firstLine
    }
}

/// 201 answer of POST /v1/routes/bulk: how many routes were added (the
/// routes themselves are not echoed: a load may hold a million).
public struct BulkRoutesResponse: Codable, Sendable, Equatable {
    public var added: Int
    public init(added: Int) { self.added = added }
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
