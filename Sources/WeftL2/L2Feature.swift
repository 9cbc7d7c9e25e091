import WeftEngine

/// The L2 bridging feature: its tables and nodes, registered into a graph
/// together (ethernet-input, l2-input, l2-learn, l2-fwd, l2-flood, l2-output,
/// gso-segment).
public final class L2Feature {
    public let domains: BridgeDomainTable
    public let macTable: MacTable
    public let sourceGuard = SourceGuardTable()
    /// Addresses with one known owner interface, for ARP requests sent to it alone.
    public let arpTargets = ArpTargetTable()
    /// Bandwidth limits per interface: egress in l2-input, ingress in l2-output.
    public let policer: PolicerTable

    public init(macTableCapacity: Int = 1 << 16, policer: PolicerTable = PolicerTable()) {
        self.policer = policer
        domains = BridgeDomainTable()
        macTable = MacTable(capacity: macTableCapacity, domains: domains)
    }

    public func register(in graph: Graph) {
        graph.register(EthernetInputNode())
        graph.register(L2InputNode(domains: domains, sourceGuard: sourceGuard, policer: policer))
        graph.register(L2LearnNode(table: macTable))
        graph.register(L2FwdNode(table: macTable, arpTargets: arpTargets))
        graph.register(L2FloodNode(domains: domains))
        graph.register(L2OutputNode(policer: policer))
        graph.register(GSOSegmentNode())
    }

    /// Worker housekeeping: ages a slice of the MAC table (the whole table
    /// about every 2.5 s at 100 ms per call).
    public func age(now: UInt32) {
        macTable.age(now: now, budget: max(1024, macTable.capacity / 25))
    }

    /// Puts `interface` into bridge domain `id` (under the barrier).
    public func attach(_ interface: UInt32, to id: UInt32, interfaces: InterfaceTable) -> Bool {
        guard domains.exists[Int(id)], domains.addMember(interface, to: id) else { return false }
        interfaces.bridgeDomain[Int(interface)] = id
        return true
    }

    /// Guards `interface` (its own MAC, and `ipv4` unless 0) and, with an
    /// address, makes it the ARP target for that address in its domain (under the barrier).
    public func guardSource(_ interface: UInt32, mac: UInt64, ipv4: UInt32, interfaces: InterfaceTable) {
        sourceGuard.set(interface, mac: mac, ipv4: ipv4)
        arpTargets.removeAll(interface: interface)
        let domain = interfaces.bridgeDomain[Int(interface)]
        if ipv4 != 0 && domain != InterfaceTable.noBridgeDomain {
            arpTargets.set(domain: domain, address: ipv4, interface: interface)
        }
    }

    /// A gateway (BVI) answers ARP for `ipv4` in its domain, or for nothing
    /// when `ipv4` is 0 (under the barrier).
    public func setGatewayAddress(_ interface: UInt32, ipv4: UInt32, interfaces: InterfaceTable) {
        arpTargets.removeAll(interface: interface)
        let domain = interfaces.bridgeDomain[Int(interface)]
        if ipv4 != 0 && domain != InterfaceTable.noBridgeDomain { arpTargets.set(domain: domain, address: ipv4, interface: interface) }
    }

    /// Takes `interface` out of its bridge domain and forgets its MACs (under the barrier).
    public func detach(_ interface: UInt32, interfaces: InterfaceTable) {
        let id = interfaces.bridgeDomain[Int(interface)]
        if id != InterfaceTable.noBridgeDomain { domains.removeMember(interface, from: id) }
        interfaces.bridgeDomain[Int(interface)] = InterfaceTable.noBridgeDomain
        macTable.flush(interface: interface)
        sourceGuard.clear(interface)
        arpTargets.removeAll(interface: interface)
        policer.clear(interface)
    }
}
