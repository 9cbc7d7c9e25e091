import WeftEngine
import WeftPacket

/// Why an IPv4 configuration change was refused; the tables are left as they were.
public enum IP4Error: Error, Equatable, CustomStringConvertible {
    case invalidInterface(UInt32)
    case invalidAddress(UInt32)
    case noSuchTable(UInt32)
    case adjacenciesExhausted
    case neighboursExhausted
    case notAllowed(String)
    case fib(FIBError)

    public var description: String {
        switch self {
        case .invalidInterface(let i): return "interface \(i) is not a valid interface index"
        case .invalidAddress(let a): return "\(IPv4.format(a)) is not a usable unicast address"
        case .noSuchTable(let t): return "no FIB table \(t)"
        case .adjacenciesExhausted: return "all adjacencies are in use"
        case .neighboursExhausted: return "the neighbour table is full"
        case .notAllowed(let why): return why
        case .fib(let e): return e.description
        }
    }
}

/// The IPv4 routing feature: the FIB, adjacencies, neighbours and interface
/// addresses, and the nodes that use them (ip4-input, ip4-lookup,
/// ip4-rewrite, ip4-local, icmp-echo, ip4-icmp-error, arp-input, ip4-arp),
/// registered into a graph together. ethernet-input (WeftL2) finds
/// ip4-input and arp-input by name and sends them what non-bridged
/// interfaces receive.
///
/// **Threads.** The configuration methods run on the control thread with the
/// worker parked at the barrier. The worker itself changes the neighbour
/// table, the adjacencies of neighbours and their /32 host routes when it
/// learns from ARP and when it ages (one writer at a time, as with MAC
/// learning). Installing a host route is a FIB add: that slow path (at most
/// once per newly resolved neighbour) may allocate in the FIB's prefix store;
/// the per-packet path never does.
///
/// **Neighbours and routes.** Every neighbour (interface, address) owns one
/// adjacency: `arp` while unresolved, `rewrite` once its MAC is known.
/// Routes through a next hop point at that adjacency, so resolution (and a
/// changed MAC) takes effect for all of them at once. A neighbour on a
/// connected subnet also gets a /32 host route to its adjacency, so traffic
/// to it is forwarded straight from ip4-lookup instead of through the
/// subnet's glean adjacency. Neighbours are learned from ARP requests and
/// replies addressed to us (and refreshed from any ARP they send that we
/// see); unreferenced dynamic entries are forgotten `neighbourAgeSeconds`
/// after they were last confirmed. Entries that routes use are kept. Shortly
/// before a reachable entry that packets went to would age out, weftd asks the
/// neighbour again by unicast ARP (`neighbourRefreshSeconds`, like Linux's
/// PROBE state): one that is still there answers and is confirmed, so a
/// neighbour in use never expires under traffic, while an idle one still does (the first packet after an expiry would be dropped in ip4-arp,
/// which does not queue), and a route's next hop that changed its MAC is noticed.
public final class IP4Feature {
    public let fib: FIB
    public let adjacencies: AdjacencyTable
    public let neighbours: NeighbourTable
    public let interfaces: IP4InterfaceTable
    /// UDP ports ip4-local hands to a node (VXLAN's 4789, ...).
    public let localPorts = IP4LocalPorts()
    /// The graph's interface table, known after `register(in:)` (MTUs for adjacencies).
    public private(set) var engineInterfaces: InterfaceTable?
    /// ip4-arp, which builds the refresh probes (set by `register(in:)`).
    private weak var arpNode: IP4ARPNode?

    /// Unreferenced dynamic neighbours are forgotten this long after the last ARP confirmed them (0: never).
    public var neighbourAgeSeconds: UInt32 = 300
    /// A reachable dynamic neighbour that packets went to (through ip4-rewrite)
    /// is asked again by unicast ARP from this many seconds before it would age
    /// out (at most half the age), every third of that while it does not answer
    /// and is still used (0: never).
    public var neighbourRefreshSeconds: UInt32 = 30
    /// ARP requests per unresolved neighbour before it is marked failed.
    public var arpProbeLimit: UInt8 = 3
    /// A failed neighbour is asked again after this many seconds (when packets still want it).
    public var arpFailedRetrySeconds: UInt32 = 10
    /// Unresolved neighbours no route refers to are forgotten this long after their last request.
    public var incompleteHoldSeconds: UInt32 = 10
    /// ARP requests ip4-arp may send per second, all neighbours together.
    public var arpRequestsPerSecond: UInt32 = 1000
    /// ICMP errors ip4-icmp-error may send per second (RFC 1812 4.3.2.8).
    public var icmpErrorsPerSecond: UInt32 = 1000
    /// Host routes the worker could not add (the FIB table's memory used up:
    /// DIR-24-8's second-level groups, or DXR's range pool);
    /// those neighbours are still reached, through ip4-arp.
    public private(set) var hostRouteFailures: UInt64 = 0

    // ip4-arp's global request budget (worker).
    var arpBudgetSecond: UInt32 = 0
    var arpSentThisSecond: UInt32 = 0

    /// - Parameters:
    ///   - fibTables: FIB table indexes (VRFs) 0..<fibTables; table 0 is created.
    ///   - fibAlgorithm: the FIB tables' structure (DXR or DIR-24-8).
    ///   - groupCapacity: DIR-24-8 only: second-level groups of table 0 (prefixes longer than /24).
    public init(fibTables: Int = 1024, fibAlgorithm: FIBAlgorithm = .default, groupCapacity: Int = FIBTable.defaultGroupCapacity,
                adjacencyCapacity: Int = 1 << 16, neighbourCapacity: Int = 1 << 14) throws {
        do {
            fib = try FIB(capacity: fibTables, algorithm: fibAlgorithm, defaultGroupCapacity: groupCapacity)
        } catch let e as FIBError { throw IP4Error.fib(e) }
        adjacencies = AdjacencyTable(capacity: adjacencyCapacity)
        neighbours = NeighbourTable(capacity: neighbourCapacity)
        interfaces = IP4InterfaceTable()
    }

    public func register(in graph: Graph) {
        engineInterfaces = graph.interfaces
        graph.register(IP4InputNode(ip4: self))
        graph.register(IP4LookupNode(ip4: self))
        graph.register(IP4RewriteNode(ip4: self))
        graph.register(IP4LocalNode(ports: localPorts))
        graph.register(ICMPEchoNode())
        graph.register(IP4ICMPErrorNode(ip4: self))
        graph.register(ARPInputNode(ip4: self))
        let arp = IP4ARPNode(ip4: self)
        arpNode = arp
        graph.register(arp)
    }

    func mtu(of interface: UInt32) -> UInt16 { engineInterfaces?.mtu[Int(interface)] ?? 1500 }

    func table(_ index: UInt32) throws -> any ForwardingTable {
        guard let t = fib.table(Int(index)) else { throw IP4Error.noSuchTable(index) }
        return t
    }

    // MARK: VRFs (FIB tables)

    /// Creates FIB table `index` (a VRF) unless it exists; returns it.
    /// Control thread, under the barrier.
    @discardableResult
    public func ensureTable(_ index: UInt32) throws -> any ForwardingTable {
        if let t = fib.table(Int(index)) { return t }
        guard Int(index) < fib.capacity else { throw IP4Error.noSuchTable(index) }
        do { return try fib.create(Int(index)) } catch let e as FIBError { throw IP4Error.fib(e) }
    }

    /// Destroys table `index` (never 0) when no interface uses it and it holds
    /// no prefix, giving its memory back. Returns true when it was destroyed.
    /// Control thread, under the barrier.
    @discardableResult
    public func releaseTableIfUnused(_ index: UInt32) -> Bool {
        guard index != 0, let t = fib.table(Int(index)), t.count == 0 else { return false }
        for i in 1..<InterfaceTable.capacity where interfaces.enabled[i] && interfaces.fibIndex[i] == index { return false }
        return (try? fib.destroy(Int(index))) != nil
    }

    static func checkInterface(_ i: UInt32) throws {
        guard i > 0, Int(i) < InterfaceTable.capacity else { throw IP4Error.invalidInterface(i) }
    }

    // MARK: interface addresses

    /// Gives `interface` its IPv4 address (replacing any), which turns IPv4
    /// on for it: the address becomes a local /32, the connected subnet a
    /// glean route, and (up to /30) the subnet broadcast a broadcast /32, in
    /// FIB table `table`. `mac` is the router's MAC on the interface.
    public func setAddress(_ address: UInt32, prefixLength: Int, interface: UInt32, mac: UInt64, table index: UInt32 = 0) throws {
        try IP4Feature.checkInterface(interface)
        guard (0...32).contains(prefixLength), address != 0, !IPv4.isMulticastOrReserved(address) else {
            throw IP4Error.invalidAddress(address)
        }
        let t = try table(index)
        if interfaces.enabled[Int(interface)] { removeAddress(interface: interface) }
        let mask = IPv4Prefix.mask(prefixLength)
        var glean: UInt32 = 0
        if prefixLength < 32 {
            guard let g = adjacencies.allocate(kind: .glean, interface: interface, nextHop: 0, mtu: mtu(of: interface)) else {
                throw IP4Error.adjacenciesExhausted
            }
            glean = g
        }
        var added: [(UInt32, Int)] = []
        do {
            try t.add(address, length: 32, adjacency: AdjacencyTable.local); added.append((address, 32))
            if prefixLength < 32 { try t.add(address & mask, length: prefixLength, adjacency: glean); added.append((address & mask, prefixLength)) }
            if prefixLength <= 30 { try t.add(address | ~mask, length: 32, adjacency: AdjacencyTable.broadcast); added.append((address | ~mask, 32)) }
        } catch {
            for (a, l) in added { _ = t.delete(a, length: l) }
            if glean != 0 { adjacencies.free(glean) }
            if let e = error as? FIBError { throw IP4Error.fib(e) }
            throw error
        }
        let i = Int(interface)
        interfaces.address[i] = address
        interfaces.prefixLength[i] = UInt8(prefixLength)
        interfaces.netmask[i] = mask
        interfaces.mac[i] = mac
        interfaces.fibIndex[i] = index
        interfaces.glean[i] = glean
        interfaces.enabled[i] = true
    }

    /// Turns IPv4 off on `interface`: its local, connected and broadcast
    /// routes go, and so do its neighbours (those routes still use stay, unresolved).
    public func removeAddress(interface: UInt32) {
        let i = Int(interface)
        guard i > 0, i < InterfaceTable.capacity, interfaces.enabled[i] else { return }
        let address = interfaces.address[i], mask = interfaces.netmask[i], len = Int(interfaces.prefixLength[i])
        let glean = interfaces.glean[i]
        for k in neighbours.all().filter({ $0.interface == interface }).map({ NeighbourTable.key(interface: $0.interface, address: $0.address) }) {
            let slot = neighbours.find(k)
            if slot >= 0 { forget(slot: slot) }
        }
        if let t = fib.table(Int(interfaces.fibIndex[i])) {
            func del(_ a: UInt32, _ l: Int, _ adj: UInt32) { if t.adjacency(of: a, length: l) == adj { _ = t.delete(a, length: l) } }
            del(address, 32, AdjacencyTable.local)
            if len < 32 { del(address & mask, len, glean) }
            if len <= 30 { del(address | ~mask, 32, AdjacencyTable.broadcast) }
        }
        if glean != 0 { adjacencies.free(glean) }
        interfaces.enabled[i] = false
        interfaces.address[i] = 0
        interfaces.prefixLength[i] = 0
        interfaces.netmask[i] = 0
        interfaces.glean[i] = 0
    }

    /// The interface's MTU changed (in the graph's `InterfaceTable`): every
    /// adjacency sending on it takes the new value.
    public func interfaceMTUChanged(_ interface: UInt32) {
        let m = mtu(of: interface)
        for i in 0..<adjacencies.fresh where adjacencies.inUse[i] && adjacencies.interface[i] == interface && i >= 4 {
            adjacencies.mtu[i] = m
        }
    }

    // MARK: routes

    /// Routes `prefix` in `table` through `nextHop` on `interface` (replacing
    /// any route for the same prefix). The next hop need not be resolved yet:
    /// ip4-arp asks for it when packets come.
    public func addRoute(_ prefix: IPv4Prefix, via nextHop: UInt32, interface: UInt32, table index: UInt32 = 0) throws {
        try IP4Feature.checkInterface(interface)
        guard nextHop != 0, !IPv4.isMulticastOrReserved(nextHop) else { throw IP4Error.invalidAddress(nextHop) }
        let t = try table(index)
        let key = NeighbourTable.key(interface: interface, address: nextHop)
        var slot = neighbours.find(key)
        if slot < 0 {
            slot = newNeighbour(key)
            if slot < 0 { throw neighbours.count >= neighbours.maxCount ? IP4Error.neighboursExhausted : IP4Error.adjacenciesExhausted }
        }
        let e = neighbours.entries + slot
        let adj = e.pointee.adjacency
        let old = t.adjacency(of: prefix.address, length: prefix.length)
        if old == adj {
            // The neighbour's own host route, now also configured: it becomes a route like any other.
            if prefix.length == 32 && prefix.address == nextHop && e.pointee.hostRoute {
                e.pointee.hostRoute = false
                e.pointee.routeRefs &+= 1
            }
            return
        }
        neighbours.entries[slot].routeRefs &+= 1
        do {
            try t.add(prefix, adjacency: adj)
        } catch {
            neighbours.entries[slot].routeRefs &-= 1
            releaseIfUnused(slot: slot)
            if let e = error as? FIBError { throw IP4Error.fib(e) }
            throw error
        }
        if let old { released(prefix, old) }
    }

    /// A route that drops (`.drop`, a blackhole) or answers ICMP unreachable (`.unreachable`).
    public func addRoute(_ prefix: IPv4Prefix, kind: AdjacencyKind, table index: UInt32 = 0) throws {
        let adj: UInt32
        switch kind {
        case .drop: adj = AdjacencyTable.drop
        case .unreachable: adj = AdjacencyTable.unreachable
        default: throw IP4Error.notAllowed("only drop and unreachable routes are added without a next hop")
        }
        let t = try table(index)
        let old = t.adjacency(of: prefix.address, length: prefix.length)
        do { try t.add(prefix, adjacency: adj) } catch let e as FIBError { throw IP4Error.fib(e) }
        if let old, old != adj { released(prefix, old) }
    }

    /// Deletes the route for exactly `prefix`; false when there is none.
    @discardableResult
    public func deleteRoute(_ prefix: IPv4Prefix, table index: UInt32 = 0) -> Bool {
        guard let t = fib.table(Int(index)), let old = t.adjacency(of: prefix.address, length: prefix.length) else { return false }
        _ = t.delete(prefix)
        released(prefix, old)
        return true
    }

    /// `prefix` no longer points at `adj`: drop the route's reference on the neighbour behind it.
    private func released(_ prefix: IPv4Prefix, _ adj: UInt32) {
        let k = adjacencies.kindOf(adj)
        guard k == .arp || k == .rewrite else { return }
        let slot = neighbours.find(NeighbourTable.key(interface: adjacencies.interface[Int(adj)], address: adjacencies.nextHop[Int(adj)]))
        guard slot >= 0, neighbours.entries[slot].adjacency == adj else { return }
        let e = neighbours.entries + slot
        if prefix.length == 32 && prefix.address == e.pointee.address && e.pointee.hostRoute {
            e.pointee.hostRoute = false
            return
        }
        if e.pointee.routeRefs > 0 { e.pointee.routeRefs &-= 1 }
        releaseIfUnused(slot: slot)
    }

    private func releaseIfUnused(slot: Int) {
        let e = neighbours.entries[slot]
        if e.routeRefs == 0 && !e.isStatic && e.state != NeighbourTable.State.reachable.rawValue { removeNeighbour(slot: slot) }
    }

    // MARK: neighbours

    /// Adds or changes a neighbour by hand; `isStatic` ones never age and ARP does not change them.
    public func addNeighbour(_ address: UInt32, mac: UInt64, interface: UInt32, isStatic: Bool = true, now: UInt32 = 0) throws {
        try IP4Feature.checkInterface(interface)
        guard address != 0, !IPv4.isMulticastOrReserved(address) else { throw IP4Error.invalidAddress(address) }
        guard interfaces.enabled[Int(interface)] else {
            throw IP4Error.notAllowed("interface \(interface) has no IPv4 address: its neighbours have no source MAC")
        }
        let key = NeighbourTable.key(interface: interface, address: address)
        var slot = neighbours.find(key)
        if slot >= 0 { neighbours.entries[slot].isStatic = false }
        switch learn(interface: interface, address: address, mac: mac, now: now, create: true) {
        case .tableFull: throw IP4Error.neighboursExhausted
        default: break
        }
        slot = neighbours.find(key)
        if slot >= 0 { neighbours.entries[slot].isStatic = isStatic }
    }

    /// Forgets a neighbour; routes through it stay and ask for it again.
    @discardableResult
    public func deleteNeighbour(_ address: UInt32, interface: UInt32) -> Bool {
        let slot = neighbours.find(NeighbourTable.key(interface: interface, address: address))
        guard slot >= 0 else { return false }
        forget(slot: slot)
        return true
    }

    /// The neighbour entry for (interface, address), if any.
    public func neighbour(_ address: UInt32, interface: UInt32) -> NeighbourTable.Info? {
        let slot = neighbours.find(NeighbourTable.key(interface: interface, address: address))
        guard slot >= 0 else { return nil }
        let e = neighbours.entries[slot]
        return NeighbourTable.Info(interface: e.interface, address: e.address, mac: e.mac,
                                   state: NeighbourTable.State(rawValue: e.state) ?? .incomplete, isStatic: e.isStatic,
                                   lastSeen: e.lastSeen, adjacency: e.adjacency, routeRefs: e.routeRefs)
    }

    /// A new, unresolved neighbour with its `arp` adjacency; -1 when either table is full.
    func newNeighbour(_ key: UInt64) -> Int {
        let interface = UInt32(truncatingIfNeeded: key >> 32), address = UInt32(truncatingIfNeeded: key)
        guard let adj = adjacencies.allocate(kind: .arp, interface: interface, nextHop: address, mtu: mtu(of: interface)) else { return -1 }
        let slot = neighbours.insert(key)
        if slot < 0 { adjacencies.free(adj); return -1 }
        neighbours.entries[slot].adjacency = adj
        return slot
    }

    /// Removes the entry at `slot` with its host route and adjacency (no route may use it).
    func removeNeighbour(slot: Int) {
        let e = neighbours.entries[slot]
        removeHostRoute(slot: slot)
        adjacencies.free(e.adjacency)
        neighbours.remove(slot: slot)
    }

    /// Removes the entry, or, while routes use it, makes it unresolved again.
    func forget(slot: Int) {
        let e = neighbours.entries + slot
        if e.pointee.routeRefs == 0 { removeNeighbour(slot: slot); return }
        removeHostRoute(slot: slot)
        let adj = Int(e.pointee.adjacency)
        adjacencies.kind[adj] = AdjacencyKind.arp.rawValue
        e.pointee.state = NeighbourTable.State.incomplete.rawValue
        e.pointee.mac = 0
        e.pointee.isStatic = false
        e.pointee.probes = 0
    }

    func removeHostRoute(slot: Int) {
        let e = neighbours.entries + slot
        guard e.pointee.hostRoute else { return }
        e.pointee.hostRoute = false
        let i = Int(e.pointee.interface)
        if let t = fib.table(Int(interfaces.fibIndex[i])), t.adjacency(of: e.pointee.address, length: 32) == e.pointee.adjacency {
            _ = t.delete(e.pointee.address, length: 32)
        }
    }

    func installHostRoute(slot: Int) {
        let e = neighbours.entries + slot
        let i = Int(e.pointee.interface)
        guard !e.pointee.hostRoute, interfaces.onLink(e.pointee.address, interface: i),
              let t = fib.table(Int(interfaces.fibIndex[i])),
              t.adjacency(of: e.pointee.address, length: 32) == nil else { return }
        do {
            try t.add(e.pointee.address, length: 32, adjacency: e.pointee.adjacency)
            e.pointee.hostRoute = true
        } catch {
            hostRouteFailures &+= 1
        }
    }

    public enum LearnResult: UInt8 {
        /// Same MAC as before: last-seen updated.
        case refreshed
        /// First resolution of this neighbour.
        case learned
        /// The neighbour's MAC changed.
        case changed
        /// Not in the table, and not to be created.
        case notKnown
        /// Static entry: not changed by ARP.
        case isStatic
        /// Neighbour or adjacency table full.
        case tableFull
    }

    /// Records that `address` on `interface` has `mac` (arp-input, and
    /// `addNeighbour`). Creates the entry only when `create`. Slow path:
    /// runs once per ARP packet that names a neighbour.
    @inline(never)
    public func learn(interface: UInt32, address: UInt32, mac: UInt64, now: UInt32, create: Bool) -> LearnResult {
        let key = NeighbourTable.key(interface: interface, address: address)
        var slot = neighbours.find(key)
        if slot < 0 {
            guard create else { return .notKnown }
            slot = newNeighbour(key)
            if slot < 0 { return .tableFull }
        }
        let e = neighbours.entries + slot
        if e.pointee.isStatic { return .isStatic }
        let reachable = NeighbourTable.State.reachable.rawValue
        if e.pointee.state == reachable && e.pointee.mac == mac {
            if e.pointee.lastSeen != now { e.pointee.lastSeen = now }
            return .refreshed
        }
        let wasReachable = e.pointee.state == reachable
        e.pointee.mac = mac
        e.pointee.state = reachable
        e.pointee.lastSeen = now
        e.pointee.probes = 0
        adjacencies.setRewrite(e.pointee.adjacency, dst: mac, src: interfaces.mac[Int(interface)])
        installHostRoute(slot: slot)
        return wasReachable ? .changed : .learned
    }

    /// What ip4-arp should do for a packet whose next hop is `address` on `interface`.
    public enum Resolution: Equatable {
        /// Known by now: forward through this (rewrite) adjacency.
        case resolved(UInt32)
        /// Send an ARP request now.
        case request
        /// A request went out recently (or the neighbour failed, or the global budget is spent).
        case throttled
        /// Neighbour or adjacency table full.
        case tableFull
    }

    /// ip4-arp's decision, with the per-neighbour and global request limits:
    /// one request per neighbour per second, `arpProbeLimit` unanswered
    /// requests before the neighbour is marked failed, asked again after
    /// `arpFailedRetrySeconds`; at most `arpRequestsPerSecond` in all.
    @inline(never)
    public func resolve(interface: UInt32, address: UInt32, now: UInt32) -> Resolution {
        let key = NeighbourTable.key(interface: interface, address: address)
        var slot = neighbours.find(key)
        if slot < 0 {
            slot = newNeighbour(key)
            if slot < 0 { return .tableFull }
            neighbours.entries[slot].lastRequest = now
        }
        let e = neighbours.entries + slot
        if e.pointee.state == NeighbourTable.State.reachable.rawValue { return .resolved(e.pointee.adjacency) }
        if e.pointee.probes >= arpProbeLimit {
            if now &- e.pointee.lastRequest < arpFailedRetrySeconds {
                e.pointee.state = NeighbourTable.State.failed.rawValue
                return .throttled
            }
            e.pointee.probes = 0
            e.pointee.state = NeighbourTable.State.incomplete.rawValue
        }
        if e.pointee.probes > 0 && now == e.pointee.lastRequest { return .throttled }
        if arpBudgetSecond != now { arpBudgetSecond = now; arpSentThisSecond = 0 }
        if arpSentThisSecond >= arpRequestsPerSecond { return .throttled }
        arpSentThisSecond &+= 1
        e.pointee.probes &+= 1
        e.pointee.lastRequest = now
        return .request
    }

    // MARK: ageing

    /// Worker housekeeping: ageing with refresh probes sent through ip4-arp.
    public func housekeeping(_ graph: Graph, now: UInt32, budget: Int? = nil) {
        guard let arp = arpNode else { age(now: now, budget: budget); return }
        age(now: now, budget: budget) { interface, address, mac in
            arp.sendRequest(graph, interface: interface, target: address, to: mac)
        }
    }

    /// Worker housekeeping (about every 100 ms): looks at a slice of the
    /// neighbour table (all of it about every 2.5 s) and forgets dynamic
    /// entries no route uses: reachable ones `neighbourAgeSeconds` after they
    /// were last confirmed, unresolved ones `incompleteHoldSeconds` after
    /// their last request. Reachable dynamic entries within
    /// `neighbourRefreshSeconds` of that age whose adjacency was used since the
    /// last probe are handed to `probe` (interface, address, MAC) for a unicast
    /// ARP request, at most every third of that window. Returns the number removed.
    @discardableResult
    public func age(now: UInt32, budget: Int? = nil,
                    probe: (_ interface: UInt32, _ address: UInt32, _ mac: UInt64) -> Void = { _, _, _ in }) -> Int {
        let budget = budget ?? max(256, neighbours.capacity / 25)
        var removed = 0, scanned = 0
        let reachable = NeighbourTable.State.reachable.rawValue
        let lead = neighbourAgeSeconds > 0 ? min(neighbourRefreshSeconds, neighbourAgeSeconds / 2) : 0
        let probeEvery = max(1, lead / 3)
        while scanned < budget {
            let cursor = neighbours.ageCursor
            let e = neighbours.entries[cursor]
            scanned += 1
            if e.key != 0 && !e.isStatic {
                if e.routeRefs == 0 {
                    let expired = e.state == reachable
                        ? neighbourAgeSeconds > 0 && now &- e.lastSeen >= neighbourAgeSeconds
                        : now &- e.lastRequest >= incompleteHoldSeconds
                    if expired {
                        removeNeighbour(slot: cursor)
                        removed += 1
                        continue        // an entry may have shifted into this slot
                    }
                }
                // Only neighbours packets went to since the last probe: an idle one
                // still ages out (Linux probes only entries in use, too).
                if lead > 0 && e.state == reachable && now &- e.lastSeen >= neighbourAgeSeconds &- lead
                    && now &- e.lastRequest >= probeEvery && adjacencies.used[Int(e.adjacency)] != 0 {
                    adjacencies.used[Int(e.adjacency)] = 0
                    neighbours.entries[cursor].lastRequest = now
                    probe(UInt32(truncatingIfNeeded: e.key &>> 32), UInt32(truncatingIfNeeded: e.key), e.mac)
                }
            }
            neighbours.ageCursor = (cursor + 1) & neighbours.mask
        }
        return removed
    }
}
