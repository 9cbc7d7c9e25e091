@testable import WeftControl

/// In-memory Dataplane for unit tests of the API, store and orchestration
/// logic. Integration tests use the real engine.
final class FakeDataplane: Dataplane {
    struct Domain: Equatable { var learnLimit: UInt32; var macAgeSeconds: UInt32 }
    struct Interface: Equatable { var index: UInt32; var bridgeDomain: UInt32 }

    var bridgeDomainsByID: [UInt32: Domain] = [:]
    var interfacesByName: [String: Interface] = [:]
    var nextIndex: UInt32 = 1
    var calls: [String] = []

    /// Set to make the next matching call throw.
    var failCreateBridgeDomain: DataplaneError?
    var failAddInterface: DataplaneError?
    var failRemoveInterface: DataplaneError?

    var inputNodes: Set<String> = ["af-packet-input", "pg-input"]
    var otherNodes: Set<String> = ["ethernet-input", "l2-input"]
    var traced: [(String, Int)] = []
    var runtimeCleared = 0

    func createBridgeDomain(id: UInt32, learnLimit: UInt32, macAgeSeconds: UInt32) throws {
        calls.append("createBridgeDomain \(id)")
        if let failure = failCreateBridgeDomain { throw failure }
        bridgeDomainsByID[id] = Domain(learnLimit: learnLimit, macAgeSeconds: macAgeSeconds)
    }

    func deleteBridgeDomain(id: UInt32) throws {
        calls.append("deleteBridgeDomain \(id)")
        guard bridgeDomainsByID.removeValue(forKey: id) != nil else { throw DataplaneError.notFound("bd \(id)") }
    }

    /// Source guards by interface name.
    var sourceGuards: [String: SourceGuardSpec] = [:]

    func addLinkInterface(hostIfName: String, bridgeDomain: UInt32, driver: PortDriver, sourceGuard: SourceGuardSpec?) throws -> UInt32 {
        calls.append(driver == .afPacket ? "addAfPacketInterface \(hostIfName) \(bridgeDomain)" : "addLinkInterface \(hostIfName) \(bridgeDomain) \(driver.rawValue)")
        if let failure = failAddInterface { throw failure }
        guard bridgeDomainsByID[bridgeDomain] != nil else { throw DataplaneError.notFound("bd \(bridgeDomain)") }
        guard interfacesByName[hostIfName] == nil else { throw DataplaneError.conflict("\(hostIfName) exists") }
        let index = nextIndex
        nextIndex += 1
        interfacesByName[hostIfName] = Interface(index: index, bridgeDomain: bridgeDomain)
        sourceGuards[hostIfName] = sourceGuard
        return index
    }

    func addTapInterface(name: String, bridgeDomain: UInt32, queueFds: [Int32], mac: [UInt8], mtu: Int,
                         sourceGuard: SourceGuardSpec?) throws -> UInt32 {
        calls.append("addTapInterface \(name) \(bridgeDomain) queues \(queueFds.count)")
        if let failure = failAddInterface { throw failure }
        guard bridgeDomainsByID[bridgeDomain] != nil else { throw DataplaneError.notFound("bd \(bridgeDomain)") }
        guard interfacesByName[name] == nil else { throw DataplaneError.conflict("\(name) exists") }
        let index = nextIndex
        nextIndex += 1
        interfacesByName[name] = Interface(index: index, bridgeDomain: bridgeDomain)
        sourceGuards[name] = sourceGuard
        return index
    }

    func setSourceGuard(hostIfName: String, sourceGuard: SourceGuardSpec) throws {
        guard interfacesByName[hostIfName] != nil else { throw DataplaneError.notFound("no interface \(hostIfName)") }
        calls.append("setSourceGuard \(hostIfName)")
        sourceGuards[hostIfName] = sourceGuard
    }

    /// What l2-input would have flagged (spoofed-mac), taken by the next call.
    var sourceGuardMisses: [String] = []
    func takeSourceGuardMisses() -> [String] {
        defer { sourceGuardMisses = [] }
        return sourceGuardMisses
    }

    /// Bandwidth limits per interface name (setBandwidth).
    var bandwidths: [String: BandwidthLimits] = [:]
    var failSetBandwidth: DataplaneError?
    func setBandwidth(hostIfName: String, limits: BandwidthLimits?) throws {
        if let failure = failSetBandwidth { throw failure }
        guard interfacesByName[hostIfName] != nil else { throw DataplaneError.notFound("no interface \(hostIfName)") }
        calls.append("setBandwidth \(hostIfName)")
        bandwidths[hostIfName] = limits?.isEmpty == false ? limits : nil
    }

    func removeInterface(hostIfName: String) throws {
        calls.append("removeInterface \(hostIfName)")
        if let failure = failRemoveInterface { throw failure }
        sourceGuards[hostIfName] = nil
        bandwidths[hostIfName] = nil
        guard interfacesByName.removeValue(forKey: hostIfName) != nil else {
            throw DataplaneError.notFound("\(hostIfName)")
        }
    }

    /// Gateways by bridge domain: (address, prefix length, mtu). Not in `calls`.
    var gateways: [UInt32: (address: UInt32, prefixLength: Int, mtu: Int)] = [:]
    /// VRF of each gateway, by bridge domain.
    var gatewayVRFs: [UInt32: UInt32] = [:]

    func setGateway(bridgeDomain: UInt32, address: UInt32, prefixLength: Int, mtu: Int, vrf: UInt32) throws {
        guard bridgeDomainsByID[bridgeDomain] != nil else { throw DataplaneError.notFound("bd \(bridgeDomain)") }
        gateways[bridgeDomain] = (address, prefixLength, mtu)
        gatewayVRFs[bridgeDomain] = vrf
    }

    /// Static routes of VRF 0 by "a.b.c.d/len" -> next hop, of other VRFs in
    /// `vrfRoutes` by "vrf:a.b.c.d/len". Not in `calls`; `routeBatches` counts addRoutes calls.
    var staticRoutes: [String: UInt32] = [:]
    var vrfRoutes: [String: UInt32] = [:]
    var routeBatches = 0
    var failAddRoutes: DataplaneError?

    private func key(_ prefix: UInt32, _ length: Int, _ vrf: UInt32) -> String {
        vrf == 0 ? "\(IPv4Address(prefix))/\(length)" : "\(vrf):\(IPv4Address(prefix))/\(length)"
    }

    func addRoutes(_ routes: [StaticRoute]) throws {
        if let failure = failAddRoutes { throw failure }
        routeBatches += 1
        for r in routes {
            if r.vrf == 0 { staticRoutes[key(r.prefix, r.length, 0)] = r.nextHop } else { vrfRoutes[key(r.prefix, r.length, r.vrf)] = r.nextHop }
        }
    }

    func deleteRoute(prefix: UInt32, length: Int, vrf: UInt32) throws {
        let removed = vrf == 0 ? staticRoutes.removeValue(forKey: key(prefix, length, 0))
                               : vrfRoutes.removeValue(forKey: key(prefix, length, vrf))
        guard removed != nil else { throw DataplaneError.notFound("route") }
    }

    func routes(vrf: UInt32) -> [RouteInfo] {
        let table = vrf == 0 ? staticRoutes : Dictionary(uniqueKeysWithValues: vrfRoutes.compactMap { k, v -> (String, UInt32)? in
            let parts = k.split(separator: ":")
            return parts.count == 2 && UInt32(parts[0]) == vrf ? (String(parts[1]), v) : nil
        })
        return table.sorted { $0.key < $1.key }.map {
            RouteInfo(prefix: $0.key, nextHop: IPv4Address($0.value).description, interface: "bvi1", kind: "static", adjacency: 5,
                      vrf: Int(vrf))
        }
    }

    func route(vrf: UInt32, address: UInt32, length: Int?) -> RouteInfo? {
        var best: (RouteInfo, Int)?
        for r in routes(vrf: vrf) {
            guard let p = try? RouteService.parsePrefix(r.prefix) else { continue }
            if let length {
                if p.length == length && p.address.value == address { return r }
            } else if address & IPv4Subnet.mask(p.length) == p.address.value, p.length >= (best?.1 ?? -1) {
                best = (r, p.length)
            }
        }
        return best?.0
    }

    /// The uplink: (name, address, prefix length, gateway).
    var uplink: (name: String, address: UInt32, prefixLength: Int, gateway: UInt32?)?

    func setUplink(hostIfName: String, address: UInt32, prefixLength: Int, gateway: UInt32?) throws {
        uplink = (hostIfName, address, prefixLength, gateway)
    }

    func removeUplink() throws {
        guard uplink != nil else { throw DataplaneError.notFound("no uplink") }
        uplink = nil
    }

    struct Tunnel: Equatable { var bridgeDomain: UInt32; var local: UInt32; var remote: UInt32; var vni: UInt32; var port: UInt16; var mtu: Int }
    var tunnels: [String: Tunnel] = [:]
    var failAddTunnel: DataplaneError?

    func addVXLANTunnel(name: String, bridgeDomain: UInt32, local: UInt32, remote: UInt32, vni: UInt32, port: UInt16,
                        mtu: Int) throws -> UInt32 {
        calls.append("addVXLANTunnel \(name)")
        if let failAddTunnel { throw failAddTunnel }
        guard bridgeDomainsByID[bridgeDomain] != nil else { throw DataplaneError.notFound("bd \(bridgeDomain)") }
        guard interfacesByName[name] == nil else { throw DataplaneError.conflict("\(name) exists") }
        tunnels[name] = Tunnel(bridgeDomain: bridgeDomain, local: local, remote: remote, vni: vni, port: port, mtu: mtu)
        let index = nextIndex
        nextIndex += 1
        interfacesByName[name] = Interface(index: index, bridgeDomain: bridgeDomain)
        return index
    }

    func removeVXLANTunnel(name: String) throws {
        calls.append("removeVXLANTunnel \(name)")
        guard tunnels.removeValue(forKey: name) != nil else { throw DataplaneError.notFound("no tunnel \(name)") }
        interfacesByName[name] = nil
    }

    var masquerading: Set<UInt32> = []
    var natExclusions: [String] = []
    var natTimeouts: (udp: UInt32, tcpEstablished: UInt32, tcpTransitory: UInt32, icmp: UInt32)?
    var natMappings: [String: (address: UInt32, port: UInt16)] = [:]   // "6/8080"
    var failAddNATMapping: DataplaneError?

    func setMasquerade(bridgeDomain: UInt32, enabled: Bool) throws {
        guard gateways[bridgeDomain] != nil else { throw DataplaneError.notFound("bd \(bridgeDomain) has no gateway") }
        if enabled { masquerading.insert(bridgeDomain) } else { masquerading.remove(bridgeDomain) }
    }

    func setNATExclusions(_ prefixes: [(address: UInt32, length: Int)]) throws {
        natExclusions = prefixes.map { "\($0.address)/\($0.length)" }
    }

    func setNATTimeouts(udp: UInt32, tcpEstablished: UInt32, tcpTransitory: UInt32, icmp: UInt32) throws {
        natTimeouts = (udp, tcpEstablished, tcpTransitory, icmp)
    }

    func addNATMapping(proto: UInt8, externalPort: UInt16, internalAddress: UInt32, internalPort: UInt16) throws {
        if let failAddNATMapping { throw failAddNATMapping }
        let key = "\(proto)/\(externalPort)"
        guard natMappings[key] == nil else { throw DataplaneError.conflict("mapping \(key) exists") }
        natMappings[key] = (internalAddress, internalPort)
    }

    func removeNATMapping(proto: UInt8, externalPort: UInt16) throws {
        guard natMappings.removeValue(forKey: "\(proto)/\(externalPort)") != nil else { throw DataplaneError.notFound("no mapping") }
    }

    func natSessions(limit: Int) -> [NATSession] {
        [NATSession(protocol: "udp", inside: "10.1.0.2:5000", outside: "192.0.2.2:32768", remote: "198.51.100.1:53",
                    state: "udp", ageSeconds: 1, isStatic: false, isHairpin: false)].prefix(limit).map { $0 }
    }

    func natStatistics() -> NATStatistics {
        NATStatistics(outsideAddress: nil, sessions: 1, tcpSessions: 0, udpSessions: 1, icmpSessions: 0, maxSessions: 65536,
                      tcpPortsInUse: 0, udpPortsInUse: 1, icmpIdsInUse: 0, staticMappings: natMappings.count, created: 1,
                      expired: 0, refusedSessionLimit: 0, refusedOutOfPorts: 0)
    }

    func natLimits() -> (maxSessions: Int, portRange: ClosedRange<UInt16>) { (65536, 32768...65535) }

    func neighbors() -> [NeighborInfo] { [] }
    func adjacencies() -> [AdjacencyInfo] { [] }

    func removeGateway(bridgeDomain: UInt32) throws {
        guard gateways.removeValue(forKey: bridgeDomain) != nil else { throw DataplaneError.notFound("bd \(bridgeDomain) gateway") }
    }

    func interfaces() -> [InterfaceInfo] {
        interfacesByName.sorted { $0.value.index < $1.value.index }.map { name, interface in
            InterfaceInfo(index: interface.index, name: name, driver: "af-packet", mac: "02:00:00:00:00:01", mtu: 1500,
                          bridgeDomain: interface.bridgeDomain, up: true, rxPackets: 1, rxBytes: 64, txPackets: 2,
                          txBytes: 128, drops: 0)
        }
    }

    func runtime() -> [NodeRuntimeInfo] {
        [NodeRuntimeInfo(name: "af-packet-input", state: "polling", calls: 10, vectors: 40, clocks: 4000)]
    }

    func clearRuntime() { runtimeCleared += 1 }

    func errors() -> [ErrorCounterInfo] {
        [ErrorCounterInfo(node: "l2-fwd", name: "no_bd", description: "no bridge domain", count: 3)]
    }

    func bridgeDomains(detail: Bool) -> [BridgeDomainInfo] {
        bridgeDomainsByID.keys.sorted().map { id in
            let domain = bridgeDomainsByID[id]!
            let members = interfacesByName.filter { $0.value.bridgeDomain == id }.map(\.key).sorted()
            return BridgeDomainInfo(id: id, learning: true, learnLimit: domain.learnLimit, learned: 0,
                                    macAgeSeconds: domain.macAgeSeconds, interfaces: members,
                                    macs: detail ? [] : nil)
        }
    }

    func traceAdd(node: String, count: Int) throws {
        if inputNodes.contains(node) {
            traced.append((node, count))
        } else if otherNodes.contains(node) {
            throw DataplaneError.invalid("\(node) is not an input node")
        } else {
            throw DataplaneError.notFound("no node \(node)")
        }
    }

    func traceShow() -> [TracedPacketInfo] { [TracedPacketInfo(id: 1, lines: ["af-packet-input: wf0001"])] }
    func traceClear() { traced.removeAll() }

    // pcap: a capture is its request; replays are recorded, never played.
    var capture: CreateCaptureRequest?
    var captureStopped = false
    var replaysByName: [String: ReplayInfo] = [:]

    func startCapture(_ request: CreateCaptureRequest) throws -> CaptureStatus {
        if capture != nil && !captureStopped { throw DataplaneError.conflict("a capture is running") }
        if let i = request.interface, interfacesByName[i] == nil { throw DataplaneError.notFound("no interface \(i)") }
        if let n = request.node, !(inputNodes.contains(n) || otherNodes.contains(n) || n == "error-drop") {
            throw DataplaneError.notFound("no node \(n)")
        }
        capture = request
        captureStopped = false
        return captureStatus()
    }

    func captureStatus() -> CaptureStatus {
        guard let c = capture else { return CaptureStatus(state: "idle") }
        return CaptureStatus(state: captureStopped ? "stopped" : "running", interface: c.interface, direction: c.direction,
                             node: c.node, file: c.file, filter: c.filter, snaplen: c.snaplen ?? 65535, count: c.count ?? 0)
    }

    func stopCapture() throws -> CaptureStatus {
        guard capture != nil, !captureStopped else { throw DataplaneError.notFound("no capture is running") }
        captureStopped = true
        return captureStatus()
    }

    func addReplay(name: String, file: String, network: String, bridgeDomain: UInt32, mtu: Int, count: Int, rate: Int) throws -> ReplayInfo {
        guard replaysByName[name] == nil else { throw DataplaneError.conflict("replay \(name) exists") }
        guard bridgeDomainsByID[bridgeDomain] != nil else { throw DataplaneError.notFound("bd \(bridgeDomain)") }
        let info = ReplayInfo(name: name, file: file, network: network, interface: "pcap-\(name)", state: "playing", packets: 1,
                              count: count, rate: rate, packetsSent: 0, loopsDone: 0)
        replaysByName[name] = info
        return info
    }

    func replays() -> [ReplayInfo] { replaysByName.values.sorted { $0.name < $1.name } }

    func removeReplay(name: String) throws {
        guard replaysByName.removeValue(forKey: name) != nil else { throw DataplaneError.notFound("no replay \(name)") }
    }
}
