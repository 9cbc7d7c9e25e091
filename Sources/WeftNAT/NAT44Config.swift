/// NAT44 (endpoint-dependent) settings. A value type: `NAT44Feature` copies
/// it into its tables; changing timeouts later goes through `setTimeouts`.
public struct NAT44Config: Sendable, Equatable {
    /// Sessions the table holds (all protocols together), preallocated. 1...16M.
    public var maxSessions: Int
    /// Outside ports (and ICMP echo identifiers) handed to dynamic sessions,
    /// per protocol. Endpoint-dependent: a port is reused for sessions to
    /// different remote endpoints, so (protocol, port, remote address:port)
    /// is what must be unique; the range bounds the flows to one remote
    /// endpoint (e.g. 32768 to one DNS server), not the session count.
    public var portRange: ClosedRange<UInt16>
    /// Idle timeouts, seconds (0 is taken as 1).
    public var udpTimeout: UInt32
    public var tcpEstablishedTimeout: UInt32
    /// TCP before both directions were seen (SYN) and after a FIN.
    public var tcpTransitoryTimeout: UInt32
    /// TCP after a RST (either direction): the session is closed, kept only
    /// briefly for stray retransmissions.
    public var tcpResetTimeout: UInt32
    public var icmpTimeout: UInt32
    /// Sessions the worker's housekeeping may look at per `expire` call when
    /// no budget is given.
    public var expireBudget: Int

    public init(maxSessions: Int = 65536, portRange: ClosedRange<UInt16> = 32768...65535,
                udpTimeout: UInt32 = 300, tcpEstablishedTimeout: UInt32 = 7440, tcpTransitoryTimeout: UInt32 = 240,
                tcpResetTimeout: UInt32 = 10, icmpTimeout: UInt32 = 60, expireBudget: Int = 1024) {
        self.maxSessions = maxSessions
        self.portRange = portRange
        self.udpTimeout = udpTimeout
        self.tcpEstablishedTimeout = tcpEstablishedTimeout
        self.tcpTransitoryTimeout = tcpTransitoryTimeout
        self.tcpResetTimeout = tcpResetTimeout
        self.icmpTimeout = icmpTimeout
        self.expireBudget = expireBudget
    }
}

/// Why a NAT44 configuration change was refused; nothing was changed.
public enum NAT44Error: Error, Equatable, CustomStringConvertible {
    case invalidConfig(String)
    case unsupportedProtocol(UInt8)
    case invalidPort(UInt16)
    case mappingExists(protocol: UInt8, port: UInt16)
    case noSuchMapping(protocol: UInt8, port: UInt16)
    case tooManyMappings

    public var description: String {
        switch self {
        case .invalidConfig(let why): return "invalid NAT44 configuration: \(why)"
        case .unsupportedProtocol(let p): return "protocol \(p) is not supported (TCP 6 and UDP 17 only)"
        case .invalidPort(let p): return "port \(p) is not usable"
        case .mappingExists(let pr, let p): return "a static mapping for protocol \(pr) port \(p) exists"
        case .noSuchMapping(let pr, let p): return "no static mapping for protocol \(pr) port \(p)"
        case .tooManyMappings: return "too many static mappings"
        }
    }
}

/// One row of `show nat sessions`.
public struct NAT44SessionInfo: Sendable, Equatable {
    public var index: UInt32
    public var proto: UInt8
    public var insideAddress: UInt32
    public var insidePort: UInt16
    public var outsideAddress: UInt32
    public var outsidePort: UInt16
    /// The remote end as the inside host addresses it.
    public var remoteAddress: UInt32
    public var remotePort: UInt16
    /// The remote end on the wire (differs from `remote` for hairpinned sessions).
    public var peerAddress: UInt32
    public var peerPort: UInt16
    /// "udp", "tcp-established", "tcp-transitory", "tcp-reset", "icmp".
    public var state: String
    public var lastSeen: UInt32
    public var isStatic: Bool
    public var isHairpin: Bool
}

/// Totals for `show nat` and the API.
public struct NAT44Statistics: Sendable, Equatable {
    public var sessions: Int
    public var tcpSessions: Int
    public var udpSessions: Int
    public var icmpSessions: Int
    public var maxSessions: Int
    /// Dynamic ports (and echo ids) in use per protocol.
    public var tcpPortsInUse: Int
    public var udpPortsInUse: Int
    public var icmpIdsInUse: Int
    public var staticMappings: Int
    public var created: UInt64
    public var expired: UInt64
    /// Sessions not created because the table was full / no port was free.
    public var refusedSessionLimit: UInt64
    public var refusedOutOfPorts: UInt64
}
