/// Body of POST /v1/tunnels: a VXLAN tunnel from this node's uplink address
/// to the VTEP `remote`, carrying network `network`'s bridge domain.
public struct CreateTunnelRequest: Codable, Sendable, Equatable {
    public var network: String
    public var remote: String
    /// Default: the network's VNI.
    public var vni: Int?
    /// UDP destination port, default 4789 (IANA).
    public var port: Int?
    public init(network: String, remote: String, vni: Int? = nil, port: Int? = nil) {
        self.network = network; self.remote = remote; self.vni = vni; self.port = port
    }
}

/// A VXLAN tunnel as the API returns it (`show vxlan tunnels`), with the
/// counters of its interface: rx = decapsulated frames, tx = frames
/// encapsulated, drops = frames refused on it.
public struct TunnelInfo: Codable, Sendable, Equatable {
    public var name: String            // interface name, "vxlan_tunnel3"
    public var network: String
    public var local: String           // the uplink's address
    public var remote: String
    public var vni: Int
    public var port: Int
    public var mtu: Int                // largest inner L3 packet
    public var swIfIndex: UInt32?      // nil when not in the dataplane
    public var rxPackets: UInt64
    public var rxBytes: UInt64
    public var txPackets: UInt64
    public var txBytes: UInt64
    public var drops: UInt64

    public init(name: String, network: String, local: String, remote: String, vni: Int, port: Int, mtu: Int,
                swIfIndex: UInt32?, rxPackets: UInt64 = 0, rxBytes: UInt64 = 0, txPackets: UInt64 = 0,
                txBytes: UInt64 = 0, drops: UInt64 = 0) {
        self.name = name; self.network = network; self.local = local; self.remote = remote; self.vni = vni
        self.port = port; self.mtu = mtu; self.swIfIndex = swIfIndex; self.rxPackets = rxPackets
        self.rxBytes = rxBytes; self.txPackets = txPackets; self.txBytes = txBytes; self.drops = drops
    }
}
