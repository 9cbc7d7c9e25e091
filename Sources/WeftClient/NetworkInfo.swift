/// A network as the API returns it.
public struct NetworkInfo: Codable, Sendable, Equatable {
    public var name: String
    public var bridgeDomain: UInt32
    public var subnet: String
    public var mtu: Int
    public var macAgeSeconds: Int
    public var learnLimit: Int
    /// VXLAN network identifier when the network spans nodes.
    public var vni: Int?
    /// IPAM range of this node (nil: the whole subnet).
    public var rangeStart: String?
    public var rangeEnd: String?
    /// Remote VTEP addresses of the network's tunnels.
    public var remoteVteps: [String]?
    /// NAT44 behind the uplink's address for traffic leaving through it.
    public var masquerade: Bool?
    /// VRF (FIB table) of the network's gateway; omitted for 0, the default table.
    public var vrf: Int?

    public init(name: String, bridgeDomain: UInt32, subnet: String, mtu: Int, macAgeSeconds: Int, learnLimit: Int,
                vni: Int? = nil, rangeStart: String? = nil, rangeEnd: String? = nil, remoteVteps: [String]? = nil,
                masquerade: Bool? = nil, vrf: Int? = nil) {
        self.masquerade = masquerade
        self.vrf = vrf
        self.name = name; self.bridgeDomain = bridgeDomain; self.subnet = subnet; self.mtu = mtu
        self.macAgeSeconds = macAgeSeconds; self.learnLimit = learnLimit
        self.vni = vni; self.rangeStart = rangeStart; self.rangeEnd = rangeEnd; self.remoteVteps = remoteVteps
    }
}
