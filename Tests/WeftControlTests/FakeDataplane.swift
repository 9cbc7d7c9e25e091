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

    func addAfPacketInterface(hostIfName: String, bridgeDomain: UInt32) throws -> UInt32 {
        calls.append("addAfPacketInterface \(hostIfName) \(bridgeDomain)")
        if let failure = failAddInterface { throw failure }
        guard bridgeDomainsByID[bridgeDomain] != nil else { throw DataplaneError.notFound("bd \(bridgeDomain)") }
        guard interfacesByName[hostIfName] == nil else { throw DataplaneError.conflict("\(hostIfName) exists") }
        let index = nextIndex
        nextIndex += 1
        interfacesByName[hostIfName] = Interface(index: index, bridgeDomain: bridgeDomain)
        return index
    }

    func removeInterface(hostIfName: String) throws {
        calls.append("removeInterface \(hostIfName)")
        if let failure = failRemoveInterface { throw failure }
        guard interfacesByName.removeValue(forKey: hostIfName) != nil else {
            throw DataplaneError.notFound("\(hostIfName)")
        }
    }

    /// Gateways by bridge domain: (address, prefix length, mtu). Not in `calls`.
    var gateways: [UInt32: (address: UInt32, prefixLength: Int, mtu: Int)] = [:]

    func setGateway(bridgeDomain: UInt32, address: UInt32, prefixLength: Int, mtu: Int) throws {
        guard bridgeDomainsByID[bridgeDomain] != nil else { throw DataplaneError.notFound("bd \(bridgeDomain)") }
        gateways[bridgeDomain] = (address, prefixLength, mtu)
    }

    /// Static routes by "a.b.c.d/len" -> next hop. Not in `calls`; `routeBatches` counts addRoutes calls.
    var staticRoutes: [String: UInt32] = [:]
    var routeBatches = 0
    var failAddRoutes: DataplaneError?

    func addRoutes(_ routes: [StaticRoute]) throws {
        if let failure = failAddRoutes { throw failure }
        routeBatches += 1
        for r in routes { staticRoutes["\(IPv4Address(r.prefix))/\(r.length)"] = r.nextHop }
    }

    func deleteRoute(prefix: UInt32, length: Int) throws {
        guard staticRoutes.removeValue(forKey: "\(IPv4Address(prefix))/\(length)") != nil else { throw DataplaneError.notFound("route") }
    }

    func routes() -> [RouteInfo] {
        staticRoutes.sorted { $0.key < $1.key }.map {
            RouteInfo(prefix: $0.key, nextHop: IPv4Address($0.value).description, interface: "bvi1", kind: "static", adjacency: 5)
        }
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
}
