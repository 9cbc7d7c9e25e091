import WeftEngine

/// The L2 bridging feature: its tables and nodes, registered into a graph
/// together (ethernet-input, l2-input, l2-learn, l2-fwd, l2-flood, l2-output).
public final class L2Feature {
    public let domains: BridgeDomainTable
    public let macTable: MacTable
    public let sourceGuard = SourceGuardTable()
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
        graph.register(L2FwdNode(table: macTable))
        graph.register(L2FloodNode(domains: domains))
        graph.register(L2OutputNode(policer: policer))
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

    /// Takes `interface` out of its bridge domain and forgets its MACs (under the barrier).
    public func detach(_ interface: UInt32, interfaces: InterfaceTable) {
        let id = interfaces.bridgeDomain[Int(interface)]
        if id != InterfaceTable.noBridgeDomain { domains.removeMember(interface, from: id) }
        interfaces.bridgeDomain[Int(interface)] = InterfaceTable.noBridgeDomain
        macTable.flush(interface: interface)
        sourceGuard.clear(interface)
        policer.clear(interface)
    }
}
