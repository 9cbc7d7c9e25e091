import WeftEngine
import WeftIP4
import WeftPacket

/// One static mapping (port forward): outside address:`externalPort` ->
/// `internalAddress`:`internalPort`, for TCP (6) or UDP (17).
public struct NAT44StaticMapping: Sendable, Equatable {
    public var proto: UInt8
    public var externalPort: UInt16
    public var internalAddress: UInt32
    public var internalPort: UInt16
}

/// NAT44 endpoint-dependent (VPP's NAT44-ED): source NAT of inside networks
/// to the uplink's address, static port mappings into them, hairpinning,
/// ICMP echo and ICMP errors, with a bounded session table.
///
/// Wiring: `register(in:)` adds nat44-in2out and nat44-out2in to the graph;
/// `setInside` / `setOutside` make them the IPv4 input feature
/// (`IP4InterfaceTable.inputFeature`) of the inside BVIs and of the uplink,
/// so ip4-input hands those interfaces' packets to them, and they hand the
/// packets (translated or not) to ip4-lookup.
///
/// What is translated (in2out, on inside interfaces): a packet of a known
/// session; else a packet whose destination is not in an excluded prefix
/// and whose route leaves through the outside interface (a new session with
/// a dynamic port); else, to the outside address and a static mapping's
/// port, hairpinned (DNAT to the mapping and SNAT to the outside address).
/// Everything else passes untranslated. out2in (on the uplink): packets to
/// the outside address of a session, or of a static mapping (new session);
/// to a dynamic-range port without a session: dropped (`no-session`); any
/// other packet (ping of the router, VXLAN, other local services, packets
/// not for the outside address) passes untranslated.
///
/// **Threads.** Configuration methods run on the control thread under the
/// worker barrier; the worker creates and deletes sessions and calls
/// `expire` from its housekeeping.
public final class NAT44Feature {
    public let table: NAT44SessionTable
    public let ip4: IP4Feature
    public private(set) var config: NAT44Config
    /// The uplink (0: none) and its address (host order; 0: NAT off).
    public private(set) var outsideInterface: UInt32 = 0
    public var outsideAddress: UInt32 { table.outsideAddress }

    /// Per interface: masquerading network (nat44-in2out is its input feature).
    let inside: UnsafeMutablePointer<Bool>
    /// Interfaces with `inside` set.
    private(set) var insideCount = 0
    // Excluded destination prefixes, read linearly by nat44-in2out.
    private(set) var exclusionAddress: UnsafeMutablePointer<UInt32>
    private(set) var exclusionMask: UnsafeMutablePointer<UInt32>
    private(set) var exclusionCount = 0
    public private(set) var exclusions: [IPv4Prefix] = []
    private var mappings: [UInt32: NAT44StaticMapping] = [:]

    var in2outNode: Int32 = -1
    var out2inNode: Int32 = -1

    public static let maxSessionsLimit = 1 << 24

    public init(config: NAT44Config = NAT44Config(), ip4: IP4Feature) throws {
        guard (1...Self.maxSessionsLimit).contains(config.maxSessions) else {
            throw NAT44Error.invalidConfig("maxSessions must be 1...\(Self.maxSessionsLimit)")
        }
        guard config.portRange.lowerBound >= 1 else { throw NAT44Error.invalidConfig("the port range must not include 0") }
        guard config.expireBudget >= 1 else { throw NAT44Error.invalidConfig("expireBudget must be >= 1") }
        self.config = config
        self.ip4 = ip4
        table = NAT44SessionTable(config: config)
        inside = .allocate(capacity: InterfaceTable.capacity)
        inside.initialize(repeating: false, count: InterfaceTable.capacity)
        exclusionAddress = .allocate(capacity: 1)
        exclusionMask = .allocate(capacity: 1)
    }

    deinit {
        inside.deallocate(); exclusionAddress.deallocate(); exclusionMask.deallocate()
    }

    /// Adds nat44-in2out and nat44-out2in to `graph` (before `finalize()`).
    public func register(in graph: Graph) {
        in2outNode = graph.register(NAT44In2OutNode(nat: self))
        out2inNode = graph.register(NAT44Out2InNode(nat: self))
    }

    static func checkInterface(_ i: UInt32) {
        precondition(i > 0 && Int(i) < InterfaceTable.capacity, "nat44: interface \(i) out of range")
    }

    // MARK: interfaces

    /// The uplink and its address (host order): out2in becomes its input
    /// feature. A different address than before flushes every session.
    public func setOutside(interface: UInt32, address: UInt32) {
        Self.checkInterface(interface)
        precondition(out2inNode >= 0, "nat44: register(in:) first")
        if address != table.outsideAddress { table.flush() }
        if outsideInterface != 0 && outsideInterface != interface {
            ip4.interfaces.inputFeature[Int(outsideInterface)] = inside[Int(outsideInterface)] ? in2outNode : -1
        }
        outsideInterface = interface
        table.outsideAddress = address
        refreshOutsideFeature()
    }

    /// out2in runs on the uplink only while NAT is in use (an inside
    /// interface or a static mapping): an uplink that only carries VXLAN or
    /// routed traffic pays nothing for NAT.
    func refreshOutsideFeature() {
        guard outsideInterface != 0 else { return }
        let o = Int(outsideInterface)
        let inUse = insideCount > 0 || !mappings.isEmpty
        ip4.interfaces.inputFeature[o] = inUse ? out2inNode : (inside[o] ? in2outNode : -1)
    }

    /// NAT off: no outside, every session deleted (inside interfaces keep
    /// their feature, which then passes everything untranslated).
    public func clearOutside() {
        table.flush()
        if outsideInterface != 0 {
            ip4.interfaces.inputFeature[Int(outsideInterface)] = inside[Int(outsideInterface)] ? in2outNode : -1
        }
        outsideInterface = 0
        table.outsideAddress = 0
    }

    /// Masquerades (or stops masquerading) what arrives on `interface` (a
    /// network's BVI). Sessions of its hosts stay until they expire.
    public func setInside(interface: UInt32, _ enabled: Bool) {
        Self.checkInterface(interface)
        precondition(in2outNode >= 0, "nat44: register(in:) first")
        if inside[Int(interface)] != enabled { insideCount += enabled ? 1 : -1 }
        inside[Int(interface)] = enabled
        if interface != outsideInterface {
            ip4.interfaces.inputFeature[Int(interface)] = enabled ? in2outNode : -1
        }
        refreshOutsideFeature()
    }

    public func isInside(_ interface: UInt32) -> Bool {
        Int(interface) < InterfaceTable.capacity && inside[Int(interface)]
    }

    /// Destinations never translated (cluster CIDRs: pod-to-pod traffic
    /// keeps its addresses). Replaces the previous list.
    public func setExclusions(_ prefixes: [IPv4Prefix]) {
        let n = max(1, prefixes.count)
        let a = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
        let m = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
        for (i, p) in prefixes.enumerated() {
            a[i] = p.address
            m[i] = IPv4Prefix.mask(p.length)
        }
        exclusionAddress.deallocate(); exclusionMask.deallocate()
        exclusionAddress = a; exclusionMask = m
        exclusionCount = prefixes.count
        exclusions = prefixes
    }

    // MARK: static mappings

    /// Forwards outside address:`externalPort` (TCP 6 or UDP 17) to
    /// `internalAddress`:`internalPort`. A port of the dynamic range is no
    /// longer chosen for new dynamic sessions (existing ones keep it until
    /// they end; their replies still match their sessions first).
    public func addStaticMapping(protocol proto: UInt8, externalPort: UInt16, internalAddress: UInt32, internalPort: UInt16) throws {
        guard proto == IPv4.protocolTCP || proto == IPv4.protocolUDP else { throw NAT44Error.unsupportedProtocol(proto) }
        guard externalPort != 0 else { throw NAT44Error.invalidPort(externalPort) }
        guard internalPort != 0 else { throw NAT44Error.invalidPort(internalPort) }
        guard internalAddress != 0, !IPv4.isMulticastOrReserved(internalAddress) else { throw NAT44Error.invalidConfig("bad internal address") }
        let key = UInt32(proto) << 16 | UInt32(externalPort)
        guard mappings[key] == nil else { throw NAT44Error.mappingExists(protocol: proto, port: externalPort) }
        let pi = NAT44SessionTable.protocolIndex(proto)
        table.setStatic(pi, externalPort, 1 << 48 | UInt64(internalAddress) << 16 | UInt64(internalPort))
        table.reservePort(pi, externalPort)
        mappings[key] = NAT44StaticMapping(proto: proto, externalPort: externalPort, internalAddress: internalAddress,
                                           internalPort: internalPort)
        refreshOutsideFeature()
    }

    /// Removes a static mapping and the sessions it created (inbound and hairpinned).
    public func removeStaticMapping(protocol proto: UInt8, externalPort: UInt16) throws {
        let key = UInt32(proto) << 16 | UInt32(externalPort)
        guard mappings.removeValue(forKey: key) != nil else { throw NAT44Error.noSuchMapping(protocol: proto, port: externalPort) }
        let pi = NAT44SessionTable.protocolIndex(proto)
        table.setStatic(pi, externalPort, 0)
        for s in 0..<table.capacity {
            let r = table.sessions[s]
            guard r.proto == proto else { continue }
            let inbound = r.flags & NAT44SessionTable.flagStatic != 0 && r.outPort == externalPort
            let hairpin = r.flags & NAT44SessionTable.flagHairpin != 0 && r.remPort == externalPort && r.remAddr == table.outsideAddress
            if inbound || hairpin { table.delete(s) }
        }
        table.unreservePort(pi, externalPort)
        refreshOutsideFeature()
    }

    public func staticMappings() -> [NAT44StaticMapping] {
        mappings.values.sorted { ($0.proto, $0.externalPort) < ($1.proto, $1.externalPort) }
    }

    // MARK: timeouts, inspection, housekeeping

    /// Changes idle timeouts (seconds); nil leaves one as it is. Applies to
    /// existing sessions too.
    public func setTimeouts(udp: UInt32? = nil, tcpEstablished: UInt32? = nil, tcpTransitory: UInt32? = nil,
                            tcpReset: UInt32? = nil, icmp: UInt32? = nil) {
        if let v = udp { config.udpTimeout = v }
        if let v = tcpEstablished { config.tcpEstablishedTimeout = v }
        if let v = tcpTransitory { config.tcpTransitoryTimeout = v }
        if let v = tcpReset { config.tcpResetTimeout = v }
        if let v = icmp { config.icmpTimeout = v }
        table.setTimeouts(config)
    }

    /// Up to `limit` sessions, most recently used first per class (for `show nat sessions`).
    public func sessions(limit: Int) -> [NAT44SessionInfo] {
        var out: [NAT44SessionInfo] = []
        for c in 0..<NAT44SessionTable.classCount {
            var s = table.lruHead[c]
            while s != NAT44SessionTable.none && out.count < limit {
                let r = table.sessions[Int(s)]
                out.append(NAT44SessionInfo(
                    index: s, proto: r.proto, insideAddress: r.inAddr, insidePort: r.inPort,
                    outsideAddress: table.outsideAddress, outsidePort: r.outPort, remoteAddress: r.remAddr, remotePort: r.remPort,
                    peerAddress: r.peerAddr, peerPort: r.peerPort, state: NAT44SessionTable.classNames[Int(r.cls)],
                    lastSeen: r.lastSeen, isStatic: r.flags & NAT44SessionTable.flagStatic != 0,
                    isHairpin: r.flags & NAT44SessionTable.flagHairpin != 0))
                s = table.lruNext[Int(s)]
            }
        }
        return out
    }

    public func statistics() -> NAT44Statistics {
        let c = table.classCounts
        return NAT44Statistics(
            sessions: table.count,
            tcpSessions: c[1] + c[2] + c[3], udpSessions: c[0], icmpSessions: c[4],
            maxSessions: table.capacity,
            tcpPortsInUse: table.portsInUse(0), udpPortsInUse: table.portsInUse(1), icmpIdsInUse: table.portsInUse(2),
            staticMappings: mappings.count,
            created: table.created, expired: table.expired,
            refusedSessionLimit: table.refusedSessionLimit, refusedOutOfPorts: table.refusedOutOfPorts)
    }

    /// Worker housekeeping: deletes sessions idle longer than their timeout,
    /// at most `budget` (default `config.expireBudget`). Returns how many.
    @discardableResult
    public func expire(now: UInt32, budget: Int? = nil) -> Int {
        table.expire(now: now, budget: budget ?? config.expireBudget)
    }

    // MARK: per packet (nat44-in2out)

    @inline(__always)
    func isExcluded(_ dst: UInt32) -> Bool {
        let a = exclusionAddress, m = exclusionMask
        var j = 0
        while j < exclusionCount {
            if dst & m[j] == a[j] { return true }
            j &+= 1
        }
        return false
    }

    /// True when the route to `dst` in table `fib` leaves through the outside interface.
    @inline(__always)
    func routesOutside(_ fib: UInt32, _ dst: UInt32) -> Bool {
        let adj = ip4.fib.views[Int(fib)].lookup(dst)
        if adj == FIBTable.miss { return false }
        let k = ip4.adjacencies.kind[Int(adj)]
        guard k == AdjacencyKind.rewrite.rawValue || k == AdjacencyKind.arp.rawValue || k == AdjacencyKind.glean.rawValue else {
            return false
        }
        return ip4.adjacencies.interface[Int(adj)] == outsideInterface
    }

    /// A new flow from an inside host to `dst` is translated.
    @inline(__always)
    func translates(_ fib: UInt32, _ dst: UInt32) -> Bool {
        dst != table.outsideAddress && !isExcluded(dst) && routesOutside(fib, dst)
    }
}
