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
    public init(index: UInt32, name: String, driver: String, mac: String, mtu: Int, bridgeDomain: UInt32?, up: Bool,
                rxPackets: UInt64, rxBytes: UInt64, txPackets: UInt64, txBytes: UInt64, drops: UInt64) {
        self.index = index; self.name = name; self.driver = driver; self.mac = mac; self.mtu = mtu
        self.bridgeDomain = bridgeDomain; self.up = up; self.rxPackets = rxPackets; self.rxBytes = rxBytes
        self.txPackets = txPackets; self.txBytes = txBytes; self.drops = drops
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
    public init(name: String, state: String, calls: UInt64, vectors: UInt64, clocks: UInt64) {
        self.name = name; self.state = state; self.calls = calls; self.vectors = vectors; self.clocks = clocks
        self.clocksPerPacket = vectors == 0 ? 0 : Double(clocks) / Double(vectors)
        self.vectorsPerCall = calls == 0 ? 0 : Double(vectors) / Double(calls)
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
    public var ageSeconds: UInt32
    public init(mac: String, interface: String, ageSeconds: UInt32) {
        self.mac = mac; self.interface = interface; self.ageSeconds = ageSeconds
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

public protocol Dataplane: AnyObject {
    /// Creates bridge domain `id` (idempotent for identical settings).
    /// MACs not seen for `macAgeSeconds` are aged out; at most `learnLimit`
    /// MACs are learned (further ones counted, not learned).
    func createBridgeDomain(id: UInt32, learnLimit: UInt32, macAgeSeconds: UInt32) throws
    func deleteBridgeDomain(id: UInt32) throws
    /// Opens `hostIfName` with AF_PACKET and adds it to bridge domain `bridgeDomain`.
    /// Returns the new sw_if_index.
    func addAfPacketInterface(hostIfName: String, bridgeDomain: UInt32) throws -> UInt32
    /// Closes the interface, flushes its MACs and removes it from its bridge domain.
    func removeInterface(hostIfName: String) throws
    /// Gives bridge domain `bridgeDomain` a gateway: a bridge-virtual
    /// interface (BVI) in the domain with weftd's MAC and IPv4 `address`
    /// (host byte order), the connected route for the subnet pointing at it.
    /// Replaces the address when the domain already has a gateway.
    func setGateway(bridgeDomain: UInt32, address: UInt32, prefixLength: Int, mtu: Int) throws
    /// Removes the domain's gateway (BVI, address, routes). .notFound when it has none.
    func removeGateway(bridgeDomain: UInt32) throws

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
}
