#if canImport(Glibc)
import Glibc
#endif
import CShims
import Dispatch
import WeftEngine
import WeftIO
import WeftIP4
import WeftL2
import WeftNAT
import WeftPacket
import WeftVXLAN

/// Settings of the forwarding engine (from weftd's configuration).
public struct EngineSettings: Sendable {
    public var buffers = 32768
    public var workerCPU: Int? = 1
    public var pollMode: Worker.PollMode = .adaptive
    public var macTableCapacity = 1 << 16
    public var afPacket = AfPacketConfig()
    /// AF_XDP ring sizes, attach mode (auto: native, then generic), zero-copy attempt.
    public var afXdp = AfXdpConfig()
    /// AF_PACKET sockets kept ready (rings set up, unbound) so an attach
    /// does not wait for the kernel's ring setup.
    public var spareAfPacketSockets = 4
    /// NAT44 session table size, dynamic port range and timeouts.
    public var nat = NAT44Config()
    /// Structure of the IPv4 FIB tables.
    public var fibAlgorithm: FIBAlgorithm = .default
    public init() {}
}

/// The real dataplane behind the `Dataplane` protocol: one worker thread
/// running af-packet-input -> ethernet-input -> l2-* -> af-packet-output, and
/// the IPv4 path (WeftIP4) behind each network's gateway, a bridge-virtual
/// interface `bvi<bd>` whose output node is `bvi`.
/// Every change is staged on the control thread and applied with the worker
/// parked at a vector boundary; forwarding continues around it.
public final class EngineDataplane: Dataplane {
    public let pool: BufferPool
    public let interfaceTable: InterfaceTable
    public let graph: Graph
    public let l2: L2Feature
    public let ip4: IP4Feature
    public let vxlan: VXLANFeature
    public let nat: NAT44Feature
    public let afPorts: AfPacketPorts
    public let worker: Worker
    let afInput: AfPacketInputNode
    let afOutput: AfPacketOutputNode
    /// AF_XDP ports (the UMEM is `pool`'s arena) and their nodes: EngineDataplane+AfXdp.swift.
    public let xdpPorts: AfXdpPorts
    let xdpInput: AfXdpInputNode
    let xdpOutput: AfXdpOutputNode
    public let tapPorts = TapPorts()
    let tapInput: TapInputNode
    let tapOutput: TapOutputNode
    let bvi: BVINode
    /// Capture and replay (pcap-input, pcap-output): operator tools, not persisted.
    public let pcap = PcapFeature()
    /// Closes detached AF_PACKET sockets in the background, in order.
    private let ringCloser = DispatchQueue(label: "weft.af-packet.close")

    public init(settings: EngineSettings) throws {
        pool = BufferPool(count: settings.buffers)
        interfaceTable = InterfaceTable()
        graph = Graph(pool: pool, interfaces: interfaceTable, frameCapacity: 1024)
        l2 = L2Feature(macTableCapacity: settings.macTableCapacity)
        afPorts = AfPacketPorts(config: settings.afPacket, spareSockets: settings.spareAfPacketSockets)
        afInput = AfPacketInputNode(ports: afPorts)
        afOutput = AfPacketOutputNode(ports: afPorts)
        graph.register(ErrorDropNode())
        graph.register(afInput)
        graph.register(afOutput)
        xdpPorts = AfXdpPorts(pool: pool, config: settings.afXdp)
        xdpInput = AfXdpInputNode(ports: xdpPorts)
        xdpOutput = AfXdpOutputNode(ports: xdpPorts)
        graph.register(xdpInput)
        graph.register(xdpOutput)
        tapInput = TapInputNode(ports: tapPorts)
        tapOutput = TapOutputNode(ports: tapPorts)
        graph.register(tapInput)
        graph.register(tapOutput)
        ip4 = try IP4Feature(fibAlgorithm: settings.fibAlgorithm)
        bvi = BVINode(ip4: ip4)
        vxlan = VXLANFeature(ip4: ip4, l2: l2)
        do { nat = try NAT44Feature(config: settings.nat, ip4: ip4) } catch { throw DataplaneError.invalid("\(error)") }
        l2.register(in: graph)
        ip4.register(in: graph)
        vxlan.register(in: graph)
        nat.register(in: graph)
        graph.register(bvi)
        pcap.register(in: graph)
        try graph.finalize()
        worker = Worker(graph: graph, cpu: settings.workerCPU, pollMode: settings.pollMode)
        worker.setInputs([afInput, xdpInput, tapInput, pcap.input])
        let l2 = self.l2, ip4 = self.ip4, nat = self.nat, afInput = self.afInput, graph = self.graph
        let xdpInput = self.xdpInput
        worker.addHousekeeping { _ in xdpInput.collectKernelDrops(graph) }
        worker.addHousekeeping { now in
            l2.age(now: now)
            ip4.housekeeping(graph, now: now)
            nat.expire(now: now)
            afInput.collectKernelDrops(graph)
        }
    }

    public func start() {
        afPorts.refillSpares()
        worker.start()
    }
    public func stop() {
        if worker.isRunning { worker.stop() }
        xdpPorts.closeAll()  // no XDP program may stay on a link after weftd
    }

    // MARK: configuration

    public func createBridgeDomain(id: UInt32, learnLimit: UInt32, macAgeSeconds: UInt32) throws {
        guard l2.domains.isValid(id) else {
            throw DataplaneError.invalid("bridge domain \(id) out of range 1...\(BridgeDomainTable.maxDomains - 1)")
        }
        worker.withBarrier {
            if l2.domains.exists[Int(id)] {
                l2.domains.learnLimit[Int(id)] = learnLimit
                l2.domains.macAgeSeconds[Int(id)] = macAgeSeconds
            } else {
                l2.domains.create(id: id, learnLimit: learnLimit, macAgeSeconds: macAgeSeconds)
            }
        }
    }

    public func deleteBridgeDomain(id: UInt32) throws {
        guard l2.domains.isValid(id), l2.domains.exists[Int(id)] else { throw DataplaneError.notFound("bridge domain \(id) does not exist") }
        let gateway = interfaceTable.index(named: Self.bviName(id))
        let members = Int(l2.domains.memberCount[Int(id)]) - (gateway == nil ? 0 : 1)
        guard members == 0 else {
            throw DataplaneError.conflict("bridge domain \(id) still has \(members) interface(s)")
        }
        worker.withBarrier {
            if let gateway { removeBVI(gateway) }
            l2.macTable.flush(domain: id)
            l2.domains.delete(id: id)
        }
    }

    public func addLinkInterface(hostIfName: String, bridgeDomain: UInt32, driver: PortDriver,
                                 sourceGuard: SourceGuardSpec?) throws -> UInt32 {
        switch driver {
        case .afPacket: return try addAfPacketInterface(hostIfName: hostIfName, bridgeDomain: bridgeDomain, sourceGuard: sourceGuard)
        case .afXdp: return try addAfXdpInterface(hostIfName: hostIfName, bridgeDomain: bridgeDomain, sourceGuard: sourceGuard)
        }
    }

    /// Under the barrier, in the same one as the interface joins its domain.
    func applySourceGuard(_ i: UInt32, _ spec: SourceGuardSpec) {
        l2.guardSource(i, mac: MACAddress.value(spec.mac), ipv4: spec.ipv4, interfaces: interfaceTable)
    }

    func addAfPacketInterface(hostIfName: String, bridgeDomain: UInt32, sourceGuard: SourceGuardSpec? = nil) throws -> UInt32 {
        guard interfaceTable.index(named: hostIfName) == nil else { throw DataplaneError.conflict("interface \(hostIfName) is already in the dataplane") }
        guard l2.domains.isValid(bridgeDomain), l2.domains.exists[Int(bridgeDomain)] else {
            throw DataplaneError.notFound("bridge domain \(bridgeDomain) does not exist")
        }
        // Socket and ring setup happen outside the barrier: forwarding goes on.
        let slot: Int32
        do { slot = try afPorts.open(name: hostIfName) } catch { throw DataplaneError.system("\(error)") }
        let mac = afPorts.mac(slot), mtu = afPorts.mtu(slot)
        let index: UInt32? = worker.withBarrier {
            guard let i = interfaceTable.add(name: hostIfName, driver: "af-packet", mac: mac, mtu: mtu,
                                         outputNode: afOutput.index, driverInstance: slot) else { return nil }
            describeAfPacket(i, slot: slot)
            guard l2.attach(i, to: bridgeDomain, interfaces: interfaceTable) else { interfaceTable.remove(i); return nil }
            if let sourceGuard { applySourceGuard(i, sourceGuard) }
            afPorts.activate(slot, swIfIndex: i)
            return i
        }
        guard let index else {
            afPorts.close(slot)
            throw DataplaneError.conflict("interface table is full (\(InterfaceTable.capacity) interfaces): detach something first")
        }
        return index
    }

    /// Why af-packet ports cannot send super-frames whole (nil: they can, or V3 rings).
    public var largeFrameSocketError: String? { afPorts.largeFrameSocketError }

    public func carriesSuperFrames(driver: PortDriver) -> Bool {
        driver == .afPacket && afPorts.takesLargeFrames
    }

    /// `show interfaces` details of an AF_PACKET port: ring version and sizes in frames.
    private func describeAfPacket(_ i: UInt32, slot: Int32) {
        let ring = afPorts.ports[Int(slot)].ring
        let rxFrames = ring.version == 3 ? Int(ring.rx_block_count) : Int(ring.rx_frame_count)
        let large = ring.version == 2 && afPorts.takesLargeFrames
        // af-packet-output sends chains and GSO super-frames whole (its large-frame socket).
        interfaceTable.takesLargeFrames[Int(i)] = large ? 1 : 0
        interfaceTable.setDetails(i, mode: ring.version == 3 ? "tpacket-v3 (\(ring.rx_block_count) blocks)"
                                      : large ? "tpacket-v2 vnet-hdr tso4 (super-frames whole)" : "tpacket-v2 vnet-hdr",
                                  queues: 1, rxRingSize: ring.version == 3 ? Int(ring.rx_block_count * ring.rx_block_size) / 2048 : rxFrames,
                                  txRingSize: Int(ring.tx_frame_count))
    }

    public func addTapInterface(name: String, bridgeDomain: UInt32, queueFds: [Int32], mac: [UInt8], mtu: Int,
                                sourceGuard: SourceGuardSpec?) throws -> UInt32 {
        guard interfaceTable.index(named: name) == nil else {
            queueFds.forEach { _ = Glibc.close($0) }
            throw DataplaneError.conflict("interface \(name) is already in the dataplane")
        }
        guard l2.domains.isValid(bridgeDomain), l2.domains.exists[Int(bridgeDomain)] else {
            queueFds.forEach { _ = Glibc.close($0) }
            throw DataplaneError.notFound("bridge domain \(bridgeDomain) does not exist")
        }
        let slot: Int32
        do { slot = try tapPorts.add(queueFds: queueFds) } catch { throw DataplaneError.invalid("\(error)") }
        let index: UInt32? = worker.withBarrier {
            guard let i = interfaceTable.add(name: name, driver: "tap", mac: mac, mtu: mtu,
                                             outputNode: tapOutput.index, driverInstance: slot) else { return nil }
            guard l2.attach(i, to: bridgeDomain, interfaces: interfaceTable) else { interfaceTable.remove(i); return nil }
            interfaceTable.setDetails(i, mode: "vnet-hdr csum-offload tso4", queues: queueFds.count, rxRingSize: 0, txRingSize: 0)
            interfaceTable.takesLargeFrames[Int(i)] = 1   // tap-output writes chains and GSO frames whole
            if let sourceGuard { applySourceGuard(i, sourceGuard) }
            tapPorts.activate(slot, swIfIndex: i)
            return i
        }
        guard let index else {
            tapPorts.detach(slot).forEach { _ = Glibc.close($0) }
            throw DataplaneError.conflict("interface table is full (\(InterfaceTable.capacity) interfaces): detach something first")
        }
        return index
    }

    public func removeInterface(hostIfName: String) throws {
        guard let i = interfaceTable.index(named: hostIfName) else { throw DataplaneError.notFound("interface \(hostIfName) is not in the dataplane") }
        if interfaceTable.descriptions[Int(i)]?.driver == "af-xdp" { return removeAfXdpInterface(i) }
        if interfaceTable.descriptions[Int(i)]?.driver == "tap" {
            let fds: [Int32] = worker.withBarrier {
                let slot = interfaceTable.driverInstance[Int(i)]
                l2.detach(i, interfaces: interfaceTable)
                interfaceTable.remove(i)
                return slot >= 0 ? tapPorts.detach(slot) : []
            }
            fds.forEach { _ = Glibc.close($0) }
            return
        }
        var ring: weft_afp_ring? = worker.withBarrier {
            let slot = interfaceTable.driverInstance[Int(i)]
            l2.detach(i, interfaces: interfaceTable)
            interfaceTable.remove(i)
            return slot >= 0 ? afPorts.detach(slot) : nil
        }
        // The worker no longer knows the rings; close them off the control thread.
        if ring != nil {
            let closing = UncheckedRing(ring: ring!)
            ring = nil
            ringCloser.async { var r = closing.ring; weft_afp_close(&r) }
        }
    }

    // MARK: uplink (a routed AF_PACKET port)

    /// The uplink's interface name, and whether it put in the default route.
    private var uplinkName: String?
    private static let defaultRoute = IPv4Prefix(address: 0, length: 0)!

    public func setUplink(hostIfName: String, address: UInt32, prefixLength: Int, gateway: UInt32?) throws {
        if uplinkName != nil { try removeUplink() }
        guard interfaceTable.index(named: hostIfName) == nil else { throw DataplaneError.conflict("interface \(hostIfName) is already in the dataplane") }
        let slot: Int32
        do { slot = try afPorts.open(name: hostIfName) } catch { throw DataplaneError.system("\(error)") }
        let mac = afPorts.mac(slot), mtu = afPorts.mtu(slot)
        let failure: DataplaneError? = worker.withBarrier {
            guard let i = interfaceTable.add(name: hostIfName, driver: "af-packet", mac: mac, mtu: mtu,
                                             outputNode: afOutput.index, driverInstance: slot) else { return .conflict("interface table is full (\(InterfaceTable.capacity) interfaces): detach something first") }
            describeAfPacket(i, slot: slot)
            do {
                try ip4.setAddress(address, prefixLength: prefixLength, interface: i, mac: MACAddress.value(mac))
                if let gateway {
                    try ip4.addRoute(Self.defaultRoute, via: gateway, interface: i)
                    staticRoutes[RouteKey(vrf: 0, prefix: Self.defaultRoute)] = gateway
                }
            } catch {
                ip4.removeAddress(interface: i)
                interfaceTable.remove(i)
                return .invalid("uplink \(hostIfName) \(IPv4.format(address))/\(prefixLength): \(error)")
            }
            afPorts.activate(slot, swIfIndex: i)
            nat.setOutside(interface: i, address: address)
            return nil
        }
        if let failure {
            afPorts.close(slot)
            throw failure
        }
        uplinkName = hostIfName
    }

    public func removeUplink() throws {
        guard let name = uplinkName, let i = interfaceTable.index(named: name) else {
            throw DataplaneError.notFound("there is no uplink")
        }
        var ring: weft_afp_ring? = worker.withBarrier {
            if let nh = staticRoutes[RouteKey(vrf: 0, prefix: Self.defaultRoute)], ip4.interfaces.enabled[Int(i)],
               nh & ip4.interfaces.netmask[Int(i)] == ip4.interfaces.address[Int(i)] & ip4.interfaces.netmask[Int(i)] {
                staticRoutes[RouteKey(vrf: 0, prefix: Self.defaultRoute)] = nil
                ip4.deleteRoute(Self.defaultRoute)
            }
            ip4.removeAddress(interface: i)
            nat.clearOutside()
            let slot = interfaceTable.driverInstance[Int(i)]
            interfaceTable.remove(i)
            return slot >= 0 ? afPorts.detach(slot) : nil
        }
        uplinkName = nil
        if ring != nil {
            let closing = UncheckedRing(ring: ring!)
            ring = nil
            ringCloser.async { var r = closing.ring; weft_afp_close(&r) }
        }
    }

    // MARK: gateways (bridge-virtual interfaces)

    /// The BVI of bridge domain `id`: its name and MAC (02:fe:ff:00 + the domain id).
    static func bviName(_ id: UInt32) -> String { "bvi\(id)" }
    static func bviMAC(_ id: UInt32) -> [UInt8] { [0x02, 0xFE, 0xFF, 0x00, UInt8(truncatingIfNeeded: id >> 8), UInt8(truncatingIfNeeded: id)] }

    public func setGateway(bridgeDomain id: UInt32, address: UInt32, prefixLength: Int, mtu: Int, vrf: UInt32) throws {
        guard l2.domains.isValid(id), l2.domains.exists[Int(id)] else { throw DataplaneError.notFound("bridge domain \(id) does not exist") }
        guard Int(vrf) < ip4.fib.capacity else { throw DataplaneError.invalid("vrf \(vrf) is out of range 0...\(ip4.fib.capacity - 1)") }
        let name = Self.bviName(id), mac = Self.bviMAC(id)
        let failure: DataplaneError? = worker.withBarrier {
            do { try ip4.ensureTable(vrf) } catch { return .invalid("FIB table \(vrf): \(error)") }
            var index = interfaceTable.index(named: name)
            var created = false
            var previousVRF: UInt32?
            if index == nil {
                guard let i = interfaceTable.add(name: name, driver: "bvi", mac: mac, mtu: mtu, outputNode: bvi.index, driverInstance: -1) else {
                    ip4.releaseTableIfUnused(vrf)
                    return .conflict("interface table is full (\(InterfaceTable.capacity) interfaces): detach something first")
                }
                guard l2.attach(i, to: id, interfaces: interfaceTable) else {
                    interfaceTable.remove(i)
                    ip4.releaseTableIfUnused(vrf)
                    return .conflict("bridge domain \(id) does not exist")
                }
                // The IPv4 path reads only headers: super-frames are routed whole
                // (ip4-rewrite checks their segments against the MTU).
                interfaceTable.takesLargeFrames[Int(i)] = 1
                // Static: every node's gateway of a network spanning nodes has
                // this MAC; a frame from another node's gateway must not move it.
                guard l2.macTable.addStatic(domain: id, mac: MACAddress.value(mac), interface: i) else {
                    l2.detach(i, interfaces: interfaceTable)
                    interfaceTable.remove(i)
                    ip4.releaseTableIfUnused(vrf)
                    return .conflict("MAC table is full")
                }
                index = i
                created = true
            } else {
                interfaceTable.mtu[Int(index!)] = UInt16(clamping: mtu)
                ip4.interfaceMTUChanged(index!)
                if ip4.interfaces.enabled[Int(index!)] { previousVRF = ip4.interfaces.fibIndex[Int(index!)] }
            }
            do {
                // Packets the BVI receives are looked up in this VRF's table (ip4-input sets fibIndex from it).
                try ip4.setAddress(address, prefixLength: prefixLength, interface: index!, mac: MACAddress.value(mac), table: vrf)
            } catch {
                if created {
                    removeBVI(index!)
                } else {
                    syncGatewayARPOwner(index!)   // setAddress removed the old address first
                }
                ip4.releaseTableIfUnused(vrf)
                return .invalid("gateway \(IPv4.format(address))/\(prefixLength) of bridge domain \(id): \(error)")
            }
            if let previousVRF, previousVRF != vrf { ip4.releaseTableIfUnused(previousVRF) }
            syncGatewayARPOwner(index!)
            return nil
        }
        if let failure { throw failure }
    }

    public func removeGateway(bridgeDomain id: UInt32) throws {
        guard let index = interfaceTable.index(named: Self.bviName(id)) else {
            throw DataplaneError.notFound("bridge domain \(id) has no gateway")
        }
        worker.withBarrier { removeBVI(index) }
    }

    /// Under the barrier: the BVI's address and routes, then the interface.
    /// The BVI answers ARP in its domain for the address it holds now (none:
    /// for none), whatever path changed it; under the barrier.
    private func syncGatewayARPOwner(_ index: UInt32) {
        let i = Int(index)
        l2.setGatewayAddress(index, ipv4: ip4.interfaces.enabled[i] ? ip4.interfaces.address[i] : 0, interfaces: interfaceTable)
    }

    private func removeBVI(_ index: UInt32) {
        let vrf = ip4.interfaces.enabled[Int(index)] ? ip4.interfaces.fibIndex[Int(index)] : 0
        nat.setInside(interface: index, false)
        ip4.removeAddress(interface: index)
        l2.detach(index, interfaces: interfaceTable)
        interfaceTable.remove(index)
        // The last network of a VRF took its table's routes with it: give the memory back.
        ip4.releaseTableIfUnused(vrf)
    }

    // MARK: static routes

    /// A static route's identity: FIB table (VRF) and prefix.
    struct RouteKey: Hashable {
        var vrf: UInt32
        var prefix: IPv4Prefix
    }

    /// Static routes (VRF, prefix) -> next hop, to tell them from the host
    /// routes ARP adds. Changed only under the barrier.
    private var staticRoutes: [RouteKey: UInt32] = [:]

    /// Routes `addRoutes` programs per barrier: forwarding pauses for one
    /// slice at a time (a few milliseconds), not for a whole bulk load.
    public var routesPerBarrier = 8192

    /// A connected subnet of an interface with IPv4 (a gateway or the uplink).
    private struct Connected {
        var interface: UInt32, vrf: UInt32, address: UInt32, mask: UInt32
    }

    /// Connected subnets of every IPv4 interface. Interface addresses are
    /// written only by the control thread (under the barrier), so the control
    /// thread may read them without one.
    private func connectedSubnets() -> [Connected] {
        let t = ip4.interfaces
        var out: [Connected] = []
        for i in 1..<InterfaceTable.capacity where t.enabled[i] && t.prefixLength[i] < 32 {
            out.append(Connected(interface: UInt32(i), vrf: t.fibIndex[i], address: t.address[i], mask: t.netmask[i]))
        }
        return out
    }

    public func addRoutes(_ routes: [StaticRoute]) throws {
        // Checks that need no table (outside the barrier): prefix, connected next hop.
        let connected = connectedSubnets()
        var planned: [(RouteKey, nextHop: UInt32, interface: UInt32)] = []
        planned.reserveCapacity(routes.count)
        var last: Connected?
        for r in routes {
            guard let prefix = IPv4Prefix(address: r.prefix, length: r.length) else {
                throw DataplaneError.invalid("prefix length \(r.length) is not 0...32")
            }
            let c: Connected
            if let l = last, l.vrf == r.vrf, r.nextHop & l.mask == l.address & l.mask {
                c = l
            } else {
                guard let found = connected.first(where: { $0.vrf == r.vrf && r.nextHop & $0.mask == $0.address & $0.mask }) else {
                    throw DataplaneError.invalid("next hop \(IPv4.format(r.nextHop)) is not on a connected subnet of vrf \(r.vrf)")
                }
                c = found
                last = found
            }
            guard c.address != r.nextHop else {
                throw DataplaneError.invalid("next hop \(IPv4.format(r.nextHop)) is weftd's own gateway address")
            }
            planned.append((RouteKey(vrf: r.vrf, prefix: prefix), r.nextHop, c.interface))
        }
        // Programmed in slices, one barrier each; what was applied is undone on failure.
        let need = staticRoutes.count + planned.count
        if need > staticRoutes.capacity {
            worker.withBarrier { staticRoutes.reserveCapacity(max(need, staticRoutes.capacity * 2)) }
        }
        var done: [(RouteKey, old: UInt32?)] = []
        done.reserveCapacity(planned.count)
        var start = 0
        while start < planned.count {
            let end = min(start + max(1, routesPerBarrier), planned.count)
            let failure: DataplaneError? = worker.withBarrier {
                for (key, nextHop, interface) in planned[start..<end] {
                    guard let table = ip4.fib.table(Int(key.vrf)) else { return .invalid("vrf \(key.vrf) has no FIB table") }
                    if staticRoutes[key] == nil, let adj = table.adjacency(of: key.prefix.address, length: key.prefix.length) {
                        let kind = ip4.adjacencies.kindOf(adj)
                        if kind != .arp && kind != .rewrite {
                            return .conflict("\(key.prefix) is a \(kind) route of the node" + (key.vrf == 0 ? "" : " in vrf \(key.vrf)"))
                        }
                    }
                    do {
                        try ip4.addRoute(key.prefix, via: nextHop, interface: interface, table: key.vrf)
                    } catch {
                        return .conflict("adding \(key.prefix) via \(IPv4.format(nextHop))" + (key.vrf == 0 ? "" : " in vrf \(key.vrf)") + ": \(error)")
                    }
                    done.append((key, staticRoutes[key]))
                    staticRoutes[key] = nextHop
                }
                return nil
            }
            if let failure {
                undo(done, connected: connected)
                throw failure
            }
            start = end
        }
        // A bulk load leaves freed blocks behind in a DXR table; one pass gives them back
        // (a no-op when little was freed). Not after small changes: a compaction of a
        // million-route table holds the worker 10-20 ms.
        if ip4.fib.algorithm == .dxr && planned.count >= routesPerBarrier {
            let vrfs = Set(planned.map(\.0.vrf))
            worker.withBarrier { for vrf in vrfs { ip4.fib.table(Int(vrf))?.compactAfterBulkLoad() } }
        }
    }

    /// Removes the routes of a failed `addRoutes`, newest first, restoring any they replaced.
    private func undo(_ done: [(RouteKey, old: UInt32?)], connected: [Connected]) {
        var i = done.count
        while i > 0 {
            let stop = max(0, i - max(1, routesPerBarrier))
            worker.withBarrier {
                for (key, old) in done[stop..<i].reversed() {
                    ip4.deleteRoute(key.prefix, table: key.vrf)
                    staticRoutes[key] = nil
                    if let old, let c = connected.first(where: { $0.vrf == key.vrf && old & $0.mask == $0.address & $0.mask }),
                       (try? ip4.addRoute(key.prefix, via: old, interface: c.interface, table: key.vrf)) != nil {
                        staticRoutes[key] = old
                    }
                }
            }
            i = stop
        }
    }

    public func deleteRoute(prefix address: UInt32, length: Int, vrf: UInt32) throws {
        guard let prefix = IPv4Prefix(address: address, length: length) else {
            throw DataplaneError.invalid("prefix length \(length) is not 0...32")
        }
        let key = RouteKey(vrf: vrf, prefix: prefix)
        let found: Bool = worker.withBarrier {
            guard staticRoutes.removeValue(forKey: key) != nil else { return false }
            ip4.deleteRoute(prefix, table: vrf)
            return true
        }
        if !found { throw DataplaneError.notFound("no static route for \(prefix)" + (vrf == 0 ? "" : " in vrf \(vrf)")) }
    }

    /// Under the barrier: `show fib`'s view of one entry.
    private func routeInfo(_ r: FIBRoute, vrf: UInt32) -> RouteInfo {
        let a = r.adjacency
        let kind = ip4.adjacencies.kindOf(a)
        let interface = a >= 4 && Int(a) < ip4.adjacencies.capacity ? ip4.adjacencies.interface[Int(a)] : 0
        let name: String? = interface == 0 ? nil : interfaceTable.name(interface)
        let label: String
        var nextHop: String?
        switch kind {
        case .arp, .rewrite:
            nextHop = IPv4.format(ip4.adjacencies.nextHop[Int(a)])
            label = staticRoutes[RouteKey(vrf: vrf, prefix: r.prefix)] != nil ? "static" : "neighbor"
        case .glean: label = "connected"
        default: label = kind.description
        }
        return RouteInfo(prefix: r.prefix.description, nextHop: nextHop, interface: name, kind: label, adjacency: a, vrf: Int(vrf))
    }

    public func routes(vrf: UInt32) -> [RouteInfo] {
        worker.withBarrier {
            guard let table = ip4.fib.table(Int(vrf)) else { return [] }
            return table.routes().map { routeInfo($0, vrf: vrf) }
        }
    }

    public func route(vrf: UInt32, address: UInt32, length: Int?) -> RouteInfo? {
        worker.withBarrier {
            guard let table = ip4.fib.table(Int(vrf)) else { return nil }
            if let length {
                guard let prefix = IPv4Prefix(address: address, length: length),
                      let adj = table.adjacency(of: prefix.address, length: length) else { return nil }
                return routeInfo(FIBRoute(prefix: prefix, adjacency: adj), vrf: vrf)
            }
            return table.longestMatch(address).map { routeInfo($0, vrf: vrf) }
        }
    }

    public func neighbors() -> [NeighborInfo] {
        worker.withBarrier {
            let now = graph.nowSeconds
            return ip4.neighbours.all().map { n in
                NeighborInfo(address: IPv4.format(n.address), mac: n.state == .reachable ? MACAddress.format(n.mac) : nil,
                             interface: interfaceTable.name(n.interface), state: n.state.description,
                             ageSeconds: n.isStatic ? 0 : now &- n.lastSeen, isStatic: n.isStatic)
            }
        }
    }

    public func adjacencies() -> [AdjacencyInfo] {
        worker.withBarrier {
            ip4.adjacencies.all().map { a in
                let hasInterface = a.index >= 4 && a.interface != 0
                return AdjacencyInfo(index: a.index, kind: a.kind.description,
                                     interface: hasInterface ? interfaceTable.name(a.interface) : nil,
                                     nextHop: a.kind == .arp || a.kind == .rewrite ? IPv4.format(a.nextHop) : nil,
                                     mtu: Int(a.mtu),
                                     rewrite: a.kind == .rewrite ? "\(MACAddress.format(a.dstMAC)) \(MACAddress.format(a.srcMAC))" : nil)
            }
        }
    }

    // MARK: inspection

    public func interfaces() -> [InterfaceInfo] {
        worker.withBarrier {
            interfaceTable.indices.compactMap { i -> InterfaceInfo? in
                guard let d = interfaceTable.descriptions[Int(i)] else { return nil }
                let bd = interfaceTable.bridgeDomain[Int(i)]
                return InterfaceInfo(index: i, name: d.name, driver: d.driver, mac: MACAddress.format(d.mac), mtu: d.mtu,
                                     bridgeDomain: bd == InterfaceTable.noBridgeDomain ? nil : bd, up: interfaceTable.up[Int(i)],
                                     rxPackets: interfaceTable.rxPackets[Int(i)], rxBytes: interfaceTable.rxBytes[Int(i)],
                                     txPackets: interfaceTable.txPackets[Int(i)], txBytes: interfaceTable.txBytes[Int(i)],
                                     drops: interfaceTable.drops[Int(i)],
                                     mode: d.mode.isEmpty ? nil : d.mode, queues: d.queues == 0 ? nil : d.queues,
                                     rxRingSize: d.rxRingSize == 0 ? nil : d.rxRingSize,
                                     txRingSize: d.txRingSize == 0 ? nil : d.txRingSize,
                                     offloads: offloads(i, driver: d.driver))
            }
        }
    }

    /// InterfaceInfo.offloads of interface `i`, from its driver and whether it takes large frames.
    private func offloads(_ i: UInt32, driver: String) -> [String] {
        let large = interfaceTable.takesLargeFrames[Int(i)] != 0
        switch driver {
        case "af-packet": return large ? ["rx-csum-partial", "rx-gso-tcp4", "rx-gso-cut", "tx-gso-tcp4", "tx-gso-udp"] : ["rx-csum-partial"]
        case "tap": return ["rx-csum-partial", "rx-gso-tcp4", "tx-gso-tcp4"]
        case "af-xdp": return ["rx-csum-partial"]
        case "vxlan": return ["tx-vxlan-udp-gso"]
        default: return large ? ["tx-gso-tcp4"] : []
        }
    }

    public func runtime() -> [NodeRuntimeInfo] {
        let (nodes, w) = worker.withBarrier { () -> ([NodeRuntimeInfo], Worker.Stats) in
            let rows = graph.nodes.map { node in
                let i = Int(node.index)
                return NodeRuntimeInfo(name: node.name, state: node.registration.kind == .input ? "polling" : "active",
                                       calls: graph.statCalls[i], vectors: graph.statVectors[i], clocks: graph.statClocks[i],
                                       bytes: graph.statBytes[i])
            }
            return (rows, worker.stats)
        }
        // The worker's own split (state "worker"): loops with packets, idle spins, sleeps.
        return nodes + [
            NodeRuntimeInfo(name: "worker-busy", state: "worker", calls: w.busyLoops, vectors: w.packets, clocks: w.busyClocks),
            NodeRuntimeInfo(name: "worker-spin", state: "worker", calls: w.idlePolls, vectors: 0, clocks: w.spinClocks),
            NodeRuntimeInfo(name: "worker-sleep", state: "worker", calls: w.sleeps, vectors: w.wakeups, clocks: w.sleepClocks),
        ]
    }

    public func clearRuntime() { worker.withBarrier { graph.clearRuntimeStats(); worker.clearStats() } }

    public func errors() -> [ErrorCounterInfo] {
        worker.withBarrier {
            var out = graph.errorNames.enumerated().map { i, e in
                ErrorCounterInfo(node: e.node, name: e.name, description: e.help, count: graph.errorCounters[i])
            }
            out.append(ErrorCounterInfo(node: "buffers", name: "alloc-failed", description: "buffer allocations refused: pool empty",
                                        count: graph.buffers.allocFailures))
            out.append(ErrorCounterInfo(node: "dispatch", name: "frames-exhausted", description: "packets dropped: no free vector frame",
                                        count: graph.frameExhaustedDrops))
            return out
        }
    }

    public func bridgeDomains(detail: Bool) -> [BridgeDomainInfo] {
        worker.withBarrier {
            let now = graph.nowSeconds
            return l2.domains.ids.map { id in
                let macs = detail ? l2.macTable.entries(domain: id).map {
                    let isStatic = $0.lastSeen == MacTable.staticStamp
                    return MacEntryInfo(mac: MACAddress.format($0.mac), interface: interfaceTable.name($0.interface),
                                        ageSeconds: isStatic ? 0 : now &- $0.lastSeen, isStatic: isStatic ? true : nil)
                }.sorted { $0.mac < $1.mac } : nil
                return BridgeDomainInfo(id: id, learning: l2.domains.learning[Int(id)], learnLimit: l2.domains.learnLimit[Int(id)],
                                        learned: l2.domains.learned[Int(id)], macAgeSeconds: l2.domains.macAgeSeconds[Int(id)],
                                        interfaces: l2.domains.memberList(id).map { interfaceTable.name($0) }, macs: macs)
            }
        }
    }

    // MARK: trace

    public func traceAdd(node name: String, count: Int) throws {
        guard let node = graph.node(named: name) else {
            let inputs = graph.nodes.filter { $0.registration.kind == .input }.map(\.name)
            throw DataplaneError.notFound("no node named \(name); input nodes: \(inputs.joined(separator: ", "))")
        }
        guard node.registration.kind == .input else { throw DataplaneError.invalid("\(name) is not an input node") }
        guard count > 0 && count <= 100_000 else { throw DataplaneError.invalid("count must be 1...100000") }
        worker.withBarrier { graph.trace.arm(node: node.index, count: count) }
    }

    public func traceShow() -> [TracedPacketInfo] {
        let records = worker.withBarrier { graph.trace.snapshot() }
        var order: [UInt32] = []
        var lines: [UInt32: [String]] = [:]
        for r in records {
            if lines[r.packet] == nil { order.append(r.packet) }
            lines[r.packet, default: []].append(graph.nodes[Int(r.node)].formatTrace(r))
        }
        return order.map { TracedPacketInfo(id: $0, lines: lines[$0] ?? []) }
    }

    public func traceClear() { worker.withBarrier { graph.trace.clear() } }
}

/// A closed-over ring handed to the closing queue (plain C data, no sharing).
private struct UncheckedRing: @unchecked Sendable { var ring: weft_afp_ring }
