/// Body of POST /v1/nat/mappings (and of its 201 response, with
/// `externalAddress` filled in): outside address:`externalPort` is forwarded
/// to `internalAddress`:`internalPort` (Docker's `-p`, CNI `portMappings`).
public struct NATMapping: Codable, Sendable, Equatable {
    public var `protocol`: String           // "tcp" or "udp"
    public var externalPort: Int
    public var internalAddress: String
    public var internalPort: Int
    /// The container the mapping belongs to: it goes when the container is detached.
    public var containerId: String?
    /// The uplink's address (response only; absent while there is no uplink).
    public var externalAddress: String?

    public init(protocol: String, externalPort: Int, internalAddress: String, internalPort: Int,
                containerId: String? = nil, externalAddress: String? = nil) {
        self.protocol = `protocol`; self.externalPort = externalPort; self.internalAddress = internalAddress
        self.internalPort = internalPort; self.containerId = containerId; self.externalAddress = externalAddress
    }
}

/// GET and PUT /v1/nat/config: idle timeouts (seconds) and the destinations
/// never translated (cluster CIDRs). PUT changes the fields it gives.
/// `maxSessions` and the port range are weftd settings (read only here).
public struct NATConfig: Codable, Sendable, Equatable {
    public var udpTimeout: Int?
    public var tcpEstablishedTimeout: Int?
    public var tcpTransitoryTimeout: Int?
    public var icmpTimeout: Int?
    public var exclude: [String]?
    public var maxSessions: Int?
    public var portRange: String?           // "32768-65535"

    public init(udpTimeout: Int? = nil, tcpEstablishedTimeout: Int? = nil, tcpTransitoryTimeout: Int? = nil,
                icmpTimeout: Int? = nil, exclude: [String]? = nil, maxSessions: Int? = nil, portRange: String? = nil) {
        self.udpTimeout = udpTimeout; self.tcpEstablishedTimeout = tcpEstablishedTimeout
        self.tcpTransitoryTimeout = tcpTransitoryTimeout; self.icmpTimeout = icmpTimeout; self.exclude = exclude
        self.maxSessions = maxSessions; self.portRange = portRange
    }
}

/// One NAT session (`show nat sessions`).
public struct NATSession: Codable, Sendable, Equatable {
    public var `protocol`: String
    public var inside: String               // "10.1.0.5:40000"
    public var outside: String              // "192.0.2.2:32768"
    public var remote: String               // "198.51.100.7:80"
    public var state: String                // udp, tcp-transitory, tcp-established, tcp-closed, icmp
    public var ageSeconds: UInt32
    public var isStatic: Bool               // created by a static mapping (inbound)
    public var isHairpin: Bool

    public init(protocol: String, inside: String, outside: String, remote: String, state: String, ageSeconds: UInt32,
                isStatic: Bool, isHairpin: Bool) {
        self.protocol = `protocol`; self.inside = inside; self.outside = outside; self.remote = remote; self.state = state
        self.ageSeconds = ageSeconds; self.isStatic = isStatic; self.isHairpin = isHairpin
    }
}

/// `show nat statistics`: the session table and every refusal.
public struct NATStatistics: Codable, Sendable, Equatable {
    public var outsideAddress: String?
    public var sessions: Int
    public var tcpSessions: Int
    public var udpSessions: Int
    public var icmpSessions: Int
    public var maxSessions: Int
    public var tcpPortsInUse: Int
    public var udpPortsInUse: Int
    public var icmpIdsInUse: Int
    public var staticMappings: Int
    public var created: UInt64
    public var expired: UInt64
    public var refusedSessionLimit: UInt64
    public var refusedOutOfPorts: UInt64

    public init(outsideAddress: String?, sessions: Int, tcpSessions: Int, udpSessions: Int, icmpSessions: Int,
                maxSessions: Int, tcpPortsInUse: Int, udpPortsInUse: Int, icmpIdsInUse: Int, staticMappings: Int,
                created: UInt64, expired: UInt64, refusedSessionLimit: UInt64, refusedOutOfPorts: UInt64) {
        self.outsideAddress = outsideAddress; self.sessions = sessions; self.tcpSessions = tcpSessions
        self.udpSessions = udpSessions; self.icmpSessions = icmpSessions; self.maxSessions = maxSessions
        self.tcpPortsInUse = tcpPortsInUse; self.udpPortsInUse = udpPortsInUse; self.icmpIdsInUse = icmpIdsInUse
        self.staticMappings = staticMappings; self.created = created; self.expired = expired
        self.refusedSessionLimit = refusedSessionLimit; self.refusedOutOfPorts = refusedOutOfPorts
    }
}
