// The seam between the control plane (API, store, attach) and the forwarding
// engine. weftd wires the real engine in (EngineDataplane); the API server and
// the reconciler only ever see this protocol, so they stay I/O-free in tests.
//
// Every call is made from the control thread. Mutations are applied by the
// implementation at a worker barrier (stage, stop workers at a vector
// boundary, apply, release); reads return snapshots.

public enum DataplaneError: Error, CustomStringConvertible, Equatable {
    case notFound(String)
    case conflict(String)
    case invalid(String)
    case system(String)

    public var description: String {
        switch self {
        case .notFound(let m), .conflict(let m), .invalid(let m), .system(let m): return m
        }
    }
}

public struct InterfaceInfo: Codable, Sendable, Equatable {
    public var index: UInt32          // sw_if_index
    public var name: String           // host interface name, e.g. "weft3a9f01"
    public var driver: String         // "af-packet", "pg", "local"
    public var mac: String            // "02:fe:..." of the host end
    public var mtu: Int
    public var bridgeDomain: UInt32?  // nil when not in a bridge domain
    public var up: Bool
    public var rxPackets: UInt64
    public var rxBytes: UInt64
    public var txPackets: UInt64
    public var txBytes: UInt64
    public var drops: UInt64          // rx ring drops + tx failures
    public var mode: String?          // driver mode: "tpacket-v2", "native"/"generic" (af-xdp), "vnet-hdr" (tap), ...
    public var queues: Int?
    public var rxRingSize: Int?       // frames
    public var txRingSize: Int?
    /// What the port carries whole (issue 19): rx-csum-partial (a partial checksum from the kernel
    /// is taken and finished later), rx-gso-tcp4 (TCPv4 super-frames received whole), rx-gso-cut
    /// (other GSO kinds received whole and cut at input), tx-gso-tcp4 / tx-gso-udp (super-frames
    /// handed to the kernel whole), tx-vxlan-udp-gso (a tunnel: super-frames leave as UDP GSO).
    public var offloads: [String]?
    public init(index: UInt32, name: String, driver: String, mac: String, mtu: Int, bridgeDomain: UInt32?, up: Bool,
                rxPackets: UInt64, rxBytes: UInt64, txPackets: UInt64, txBytes: UInt64, drops: UInt64,
                mode: String? = nil, queues: Int? = nil, rxRingSize: Int? = nil, txRingSize: Int? = nil,
                offloads: [String]? = nil) {
        self.index = index; self.name = name; self.driver = driver; self.mac = mac; self.mtu = mtu
        self.bridgeDomain = bridgeDomain; self.up = up; self.rxPackets = rxPackets; self.rxBytes = rxBytes
        self.txPackets = txPackets; self.txBytes = txBytes; self.drops = drops
        self.mode = mode; self.queues = queues; self.rxRingSize = rxRingSize; self.txRingSize = txRingSize
        self.offloads = offloads
    }
}

/// One row of `show runtime`, as VPP prints it.
public struct NodeRuntimeInfo: Codable, Sendable, Equatable {
    public var name: String
    public var state: String          // "polling" for inputs, "active" otherwise
    public var calls: UInt64
    public var vectors: UInt64        // packets processed
    public var clocks: UInt64         // rdtsc cycles spent in the node
    public var clocksPerPacket: Double
    public var vectorsPerCall: Double
    /// Bytes read or written, for the input and output nodes (0 for the others).
    public var bytes: UInt64
    public var bytesPerCall: Double
    /// Clocks per byte moved: what a super-frame's cost is measured in (0 without bytes).
    public var clocksPerByte: Double
    public init(name: String, state: String, calls: UInt64, vectors: UInt64, clocks: UInt64, bytes: UInt64 = 0) {
        self.name = name; self.state = state; self.calls = calls; self.vectors = vectors; self.clocks = clocks
        self.clocksPerPacket = vectors == 0 ? 0 : Double(clocks) / Double(vectors)
        self.vectorsPerCall = calls == 0 ? 0 : Double(vectors) / Double(calls)
        self.bytes = bytes
        self.bytesPerCall = calls == 0 ? 0 : Double(bytes) / Double(calls)
        self.clocksPerByte = bytes == 0 ? 0 : Double(clocks) / Double(bytes)
    }
}

/// One row of `show errors`: counter `/err/<node>/<name>`.
public struct ErrorCounterInfo: Codable, Sendable, Equatable {
    public var node: String
    public var name: String
    public var description: String
    public var count: UInt64
    public init(node: String, name: String, description: String, count: UInt64) {
        self.node = node; self.name = name; self.description = description; self.count = count
    }
}

public struct MacEntryInfo: Codable, Sendable, Equatable {
    public var mac: String
    public var interface: String
    public var ageSeconds: UInt32     // 0 for static entries
    public var isStatic: Bool?        // true: configured (a gateway's MAC), never learned over or aged
    public init(mac: String, interface: String, ageSeconds: UInt32, isStatic: Bool? = nil) {
        self.mac = mac; self.interface = interface; self.ageSeconds = ageSeconds; self.isStatic = isStatic
    }
}

public struct BridgeDomainInfo: Codable, Sendable, Equatable {
    public var id: UInt32
    public var learning: Bool
    public var learnLimit: UInt32
    public var learned: UInt32        // MACs currently in the table for this domain
    public var macAgeSeconds: UInt32
    public var interfaces: [String]
    public var macs: [MacEntryInfo]?  // filled only when asked for detail
    public init(id: UInt32, learning: Bool, learnLimit: UInt32, learned: UInt32, macAgeSeconds: UInt32,
                interfaces: [String], macs: [MacEntryInfo]?) {
        self.id = id; self.learning = learning; self.learnLimit = learnLimit; self.learned = learned
        self.macAgeSeconds = macAgeSeconds; self.interfaces = interfaces; self.macs = macs
    }
}

/// Packet trace, as `show trace` prints it: one entry per traced packet, one
/// line per node it went through.
public struct TracedPacketInfo: Codable, Sendable, Equatable {
    public var id: UInt32
    public var lines: [String]        // "ethernet-input: IP4 02:fe:..:01 -> 02:fe:..:02", ...
    public init(id: UInt32, lines: [String]) { self.id = id; self.lines = lines }
}

/// Anti-spoofing of one interface: frames only from `mac`; IPv4 and ARP only
/// from `ipv4` (host byte order) or 0.0.0.0.
public struct SourceGuardSpec: Sendable, Equatable {
    public var mac: [UInt8]
    public var ipv4: UInt32
    public init(mac: [UInt8], ipv4: UInt32) { self.mac = mac; self.ipv4 = ipv4 }
}

/// A static route as the dataplane takes it (host byte order), in FIB
/// table `vrf` (0: the default table).
public struct StaticRoute: Sendable, Equatable, Hashable {
    public var prefix: UInt32
    public var length: Int
    public var nextHop: UInt32
    public var vrf: UInt32
    public init(prefix: UInt32, length: Int, nextHop: UInt32, vrf: UInt32 = 0) {
        self.prefix = prefix; self.length = length; self.nextHop = nextHop; self.vrf = vrf
    }
}

/// One FIB entry, as `show fib` prints it.
public struct RouteInfo: Codable, Sendable, Equatable {
    public var prefix: String         // "10.70.0.0/16"
    public var nextHop: String?       // nil for local, connected, broadcast, drop
    public var interface: String?     // nil when the route sends nowhere
    public var kind: String           // static, connected, local, broadcast, neighbor, drop, unreachable
    public var adjacency: UInt32
    /// FIB table (VRF) of the entry.
    public var vrf: Int?
    public init(prefix: String, nextHop: String?, interface: String?, kind: String, adjacency: UInt32, vrf: Int? = 0) {
        self.prefix = prefix; self.nextHop = nextHop; self.interface = interface; self.kind = kind; self.adjacency = adjacency
        self.vrf = vrf
    }
}

/// One neighbour (ARP) entry, as `show neighbors` prints it.
public struct NeighborInfo: Codable, Sendable, Equatable {
    public var address: String
    public var mac: String?           // nil while incomplete
    public var interface: String
    public var state: String          // incomplete, reachable, stale, failed
    public var ageSeconds: UInt32
    public var isStatic: Bool
    public init(address: String, mac: String?, interface: String, state: String, ageSeconds: UInt32, isStatic: Bool) {
        self.address = address; self.mac = mac; self.interface = interface; self.state = state
        self.ageSeconds = ageSeconds; self.isStatic = isStatic
    }
}

/// One adjacency, as `show adjacencies` prints it.
public struct AdjacencyInfo: Codable, Sendable, Equatable {
    public var index: UInt32
    public var kind: String
    public var interface: String?
    public var nextHop: String?
    public var mtu: Int
    public var rewrite: String?       // "dst-mac src-mac" once resolved
    public init(index: UInt32, kind: String, interface: String?, nextHop: String?, mtu: Int, rewrite: String?) {
        self.index = index; self.kind = kind; self.interface = interface; self.nextHop = nextHop; self.mtu = mtu; self.rewrite = rewrite
    }
}

public protocol Dataplane: AnyObject {
    /// Whether ports of `driver` carry GSO super-frames through the graph
    /// whole, so an attachment's veth may keep its TSO/GSO on.
    func carriesSuperFrames(driver: PortDriver) -> Bool
    /// Creates bridge domain `id` (idempotent for identical settings).
    /// MACs not seen for `macAgeSeconds` are aged out; at most `learnLimit`
    /// MACs are learned (further ones counted, not learned).
    func createBridgeDomain(id: UInt32, learnLimit: UInt32, macAgeSeconds: UInt32) throws
    func deleteBridgeDomain(id: UInt32) throws
    /// Opens link `hostIfName` (weftd's namespace) with `driver` (AF_PACKET
    /// rings or an AF_XDP socket) and adds it to bridge domain `bridgeDomain`.
    /// Returns the new sw_if_index.
    /// `sourceGuard`: the only source MAC (and IPv4/ARP source address) the
    /// interface may send from, set in the same step as the interface joins
    /// the domain (a container's attachment); nil for links carrying other
    /// hosts' frames.
    func addLinkInterface(hostIfName: String, bridgeDomain: UInt32, driver: PortDriver, sourceGuard: SourceGuardSpec?) throws -> UInt32
    /// Adds a TAP port named `name` (the device itself lives in a container)
    /// to bridge domain `bridgeDomain`, served through `queueFds`, which the
    /// dataplane owns from now on (closed on failure and on removal).
    /// `mac` is the device's. Returns the new sw_if_index.
    func addTapInterface(name: String, bridgeDomain: UInt32, queueFds: [Int32], mac: [UInt8], mtu: Int,
                         sourceGuard: SourceGuardSpec?) throws -> UInt32
    /// Replaces the source guard of interface `hostIfName` (an attachment's
    /// whose container changed its MAC). .notFound when it is not in the dataplane.
    func setSourceGuard(hostIfName: String, sourceGuard: SourceGuardSpec) throws
    /// Guarded interfaces that sent a frame from a MAC not theirs since the
    /// last call (dropped as l2-input/spoofed-mac): candidates for a look at
    /// the container's interface. Cheap; call it often on the control thread.
    func takeSourceGuardMisses() -> [String]
    /// Closes the interface, flushes its MACs and removes it from its bridge domain.
    func removeInterface(hostIfName: String) throws
    /// Polices interface `hostIfName` (an attachment's) to `limits`
    /// (CNI convention: bits/s and bits; egress = what the container sends,
    /// checked in l2-input; ingress = what it receives, checked in
    /// l2-output); nil or an empty value removes the limits. Buckets start
    /// full. .notFound when the interface is not in the dataplane.
    func setBandwidth(hostIfName: String, limits: BandwidthLimits?) throws
    /// Gives bridge domain `bridgeDomain` a gateway: a bridge-virtual
    /// interface (BVI) in the domain with weftd's MAC and IPv4 `address`
    /// (host byte order), the connected route for the subnet pointing at it.
    /// Replaces the address when the domain already has a gateway. The
    /// BVI's local, connected and broadcast routes go in FIB table `vrf`
    /// (created when missing), and what the BVI receives is looked up there.
    func setGateway(bridgeDomain: UInt32, address: UInt32, prefixLength: Int, mtu: Int, vrf: UInt32) throws
    /// Removes the domain's gateway (BVI, address, routes). .notFound when it has none.
    func removeGateway(bridgeDomain: UInt32) throws

    /// Adds static routes, each in its FIB table (`StaticRoute.vrf`), all or
    /// nothing: each next hop must be on a connected subnet of the same VRF
    /// (a gateway's, or the uplink's in VRF 0), else .invalid and nothing
    /// changes. A prefix that is a connected, local or broadcast route is
    /// refused (.conflict); an existing static route is replaced. Large
    /// batches are applied in slices, one barrier each, so forwarding goes
    /// on between them; a failure undoes the slices already applied.
    func addRoutes(_ routes: [StaticRoute]) throws
    /// Deletes the static route for exactly `prefix/length` in table `vrf`; .notFound when there is none.
    func deleteRoute(prefix: UInt32, length: Int, vrf: UInt32) throws
    /// Every entry of FIB table `vrf` ([] when the table does not exist).
    func routes(vrf: UInt32) -> [RouteInfo]
    /// One entry of table `vrf`: with `length` exactly `address/length`,
    /// without it the longest match for `address`; nil when there is none.
    func route(vrf: UInt32, address: UInt32, length: Int?) -> RouteInfo?
    func neighbors() -> [NeighborInfo]
    func adjacencies() -> [AdjacencyInfo]

    /// Opens `hostIfName` with AF_PACKET as a routed port (in no bridge
    /// domain) with IPv4 `address/prefixLength` (host byte order) and, when
    /// `gateway` is given, the default route 0.0.0.0/0 via it. Replaces any
    /// uplink there was.
    func setUplink(hostIfName: String, address: UInt32, prefixLength: Int, gateway: UInt32?) throws
    /// Closes the uplink, its address and its default route. .notFound when there is none.
    func removeUplink() throws

    /// Adds VXLAN tunnel interface `name` to bridge domain `bridgeDomain`
    /// (split horizon: never flooded to another tunnel): frames the domain
    /// sends it leave encapsulated from `local` (the uplink's address) to
    /// `remote` with `vni` on UDP `port`; VXLAN arriving from `remote` with
    /// that VNI and port is received on it. `mtu` is the largest inner L3
    /// packet; larger frames are dropped and counted. Returns the sw_if_index.
    func addVXLANTunnel(name: String, bridgeDomain: UInt32, local: UInt32, remote: UInt32, vni: UInt32, port: UInt16,
                        mtu: Int) throws -> UInt32
    /// Removes the tunnel interface and the MACs learned on it. .notFound when there is none.
    func removeVXLANTunnel(name: String) throws

    // NAT44 (endpoint dependent). The outside is the uplink: its address is
    // the one inside hosts are masqueraded behind.

    /// Masquerades (or stops masquerading) what network `bridgeDomain`'s
    /// gateway receives for destinations routed out of the uplink.
    /// .notFound when the domain has no gateway.
    func setMasquerade(bridgeDomain: UInt32, enabled: Bool) throws
    /// Destinations never translated (prefix, length), replacing the list.
    func setNATExclusions(_ prefixes: [(address: UInt32, length: Int)]) throws
    /// Idle timeouts in seconds; they apply to existing sessions too.
    func setNATTimeouts(udp: UInt32, tcpEstablished: UInt32, tcpTransitory: UInt32, icmp: UInt32) throws
    /// Forwards the uplink address's `externalPort` (`proto` 6 or 17) to `internalAddress`:`internalPort`.
    func addNATMapping(proto: UInt8, externalPort: UInt16, internalAddress: UInt32, internalPort: UInt16) throws
    /// .notFound when there is no such mapping.
    func removeNATMapping(proto: UInt8, externalPort: UInt16) throws
    /// Up to `limit` sessions, most recently used first.
    func natSessions(limit: Int) -> [NATSession]
    func natStatistics() -> NATStatistics
    /// The table size and dynamic port range weftd was started with.
    func natLimits() -> (maxSessions: Int, portRange: ClosedRange<UInt16>)

    func interfaces() -> [InterfaceInfo]
    func runtime() -> [NodeRuntimeInfo]
    func clearRuntime()
    func errors() -> [ErrorCounterInfo]
    func bridgeDomains(detail: Bool) -> [BridgeDomainInfo]

    /// `trace add <input-node> N`. Throws .notFound for an unknown node name,
    /// .invalid when the node is not an input node.
    func traceAdd(node: String, count: Int) throws
    func traceShow() -> [TracedPacketInfo]
    func traceClear()

    // Packet capture and replay (pcap): operator tools, not persisted.

    /// Starts copying packets into `request.file` (already validated: absolute
    /// path, counts in range). .notFound: unknown interface or node; .invalid:
    /// bad filter, unwritable file, bad combination; .conflict: a capture runs.
    func startCapture(_ request: CreateCaptureRequest) throws -> CaptureStatus
    /// The running or last capture ("idle" when there was none).
    func captureStatus() -> CaptureStatus
    /// Stops the capture, writes what is buffered, closes the file and
    /// returns the final status. .notFound when no capture is running.
    func stopCapture() throws -> CaptureStatus
    /// Replays `file` as interface "pcap-<name>" in bridge domain
    /// `bridgeDomain` (of network `network`), `count` times (0 = loop), at
    /// `rate` packets/s (0 = full speed). .invalid: unreadable or unsuitable
    /// file; .notFound: no such bridge domain; .conflict: name taken, too many.
    func addReplay(name: String, file: String, network: String, bridgeDomain: UInt32, mtu: Int, count: Int, rate: Int) throws -> ReplayInfo
    func replays() -> [ReplayInfo]
    /// .notFound when there is no such replay.
    func removeReplay(name: String) throws
}

extension Dataplane {
    public func addRoute(prefix: UInt32, length: Int, nextHop: UInt32, vrf: UInt32 = 0) throws {
        try addRoutes([StaticRoute(prefix: prefix, length: length, nextHop: nextHop, vrf: vrf)])
    }
    /// A gateway in VRF 0.
    public func setGateway(bridgeDomain: UInt32, address: UInt32, prefixLength: Int, mtu: Int) throws {
        try setGateway(bridgeDomain: bridgeDomain, address: address, prefixLength: prefixLength, mtu: mtu, vrf: 0)
    }
    public func deleteRoute(prefix: UInt32, length: Int) throws { try deleteRoute(prefix: prefix, length: length, vrf: 0) }
    public func routes() -> [RouteInfo] { routes(vrf: 0) }
}

extension Dataplane {
    public func carriesSuperFrames(driver: PortDriver) -> Bool { false }
}
