import WeftEngine
import WeftPacket

/// l2-fwd: looks up the destination MAC in the frame's bridge domain.
/// Known unicast goes to l2-output on the learned interface; broadcast,
/// multicast and unknown unicast go to l2-flood. A frame whose destination
/// lives behind the interface it came from is filtered, as a switch does.
///
/// A broadcast ARP request for an address with a known owner in the domain
/// (a guarded container, a gateway: `ArpTargetTable`) goes to that interface
/// alone, unchanged, and counts as arp-unicast. Gratuitous ARP, RFC 5227 probes
/// from the owner itself, VLAN-tagged requests (owners are untagged pods and
/// gateways; a tagged address lives in another broadcast domain) and addresses
/// without an owner are flooded as before.
///
/// Uses: bridgeDomain, rxInterface, l2Offset, l3Offset, etherType, flags(.multicast). Sets: txInterface.
public final class L2FwdNode: GraphNode {
    public enum Next: String, NodeNext {
        case output = "l2-output"
        case flood = "l2-flood"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case filtered = "filtered"
        case unknownUnicast = "unknown-unicast"
        case splitHorizon = "split-horizon"
        case arpUnicast = "arp-unicast"
        public var help: String {
            switch self {
            case .filtered: return "destination is on the receiving interface"
            case .unknownUnicast: return "unknown unicast destinations flooded"
            case .splitHorizon: return "destination is in the receiving interface's split-horizon group"
            case .arpUnicast: return "broadcast ARP requests sent only to the target address's interface"
            }
        }
    }

    public static let registration = NodeRegistration(name: "l2-fwd", next: Next.self, errors: Error.self)

    let table: MacTable
    let arpTargets: ArpTargetTable
    var toOutput = Int32(0), toFlood = Int32(0)
    var errFiltered = UInt32(0), errUnknown = UInt32(0), errSplitHorizon = UInt32(0), errArpUnicast = UInt32(0)

    public init(table: MacTable, arpTargets: ArpTargetTable = ArpTargetTable()) {
        self.table = table
        self.arpTargets = arpTargets
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toOutput = nextIndex(Next.output)
        toFlood = nextIndex(Next.flood)
        errFiltered = errorIndex(Error.filtered)
        errUnknown = errorIndex(Error.unknownUnicast)
        errSplitHorizon = errorIndex(Error.splitHorizon)
        errArpUnicast = errorIndex(Error.arpUnicast)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let shg = graph.interfaces.splitHorizonGroup
        let tracing = graph.trace.enabled
        var out = NextCursor(to: toOutput)
        defer { graph.close(&out) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            if m.pointee.flags.contains(.multicast) {
                if m.pointee.etherType == Ethernet.typeARP, !m.pointee.flags.contains(.vlanTagged),
                   let owner = arpOwner(graph, bi, m), owner != m.pointee.rxInterface,
                   shg[Int(owner)] == 0 || shg[Int(owner)] != shg[Int(m.pointee.rxInterface)] {
                    graph.count(errArpUnicast)
                    if tracing { graph.traceIfSelected(bi, node: index, b: UInt64(owner), c: 3) }
                    m.pointee.txInterface = owner
                    graph.put(bi, &out)
                    continue
                }
                if tracing { graph.traceIfSelected(bi, node: index, c: 1) }
                graph.enqueue(bi, to: toFlood)
                continue
            }
            let dst = Ethernet.destination(graph.data(bi) + Int(m.pointee.l2Offset))
            let slot = table.find(MacTable.key(domain: m.pointee.bridgeDomain, mac: dst))
            if slot < 0 {
                graph.count(errUnknown)
                if tracing { graph.traceIfSelected(bi, node: index, a: dst, c: 2) }
                graph.enqueue(bi, to: toFlood)
                continue
            }
            let tx = table.entries[slot].interface
            if tracing { graph.traceIfSelected(bi, node: index, a: dst, b: UInt64(tx), c: 0) }
            if _slowPath(tx == m.pointee.rxInterface) { graph.drop(bi, error: errFiltered); continue }
            let group = shg[Int(tx)]
            if _slowPath(group != 0) && group == shg[Int(m.pointee.rxInterface)] { graph.drop(bi, error: errSplitHorizon); continue }
            m.pointee.txInterface = tx
            graph.put(bi, &out)
        }
    }

    /// The owner of the target address of a broadcast ARP request (not a
    /// gratuitous one), or nil: then the frame is flooded.
    @inline(__always)
    private func arpOwner(_ graph: Graph, _ bi: UInt32, _ m: UnsafeMutablePointer<BufferMetadata>) -> UInt32? {
        let end = Int(m.pointee.dataOffset) &+ Int(m.pointee.length)
        let l3 = Int(m.pointee.l3Offset)
        guard l3 &+ ARP.length <= end else { return nil }
        let data = graph.data(bi)
        guard Ethernet.destination(data + Int(m.pointee.l2Offset)) == 0xFFFF_FFFF_FFFF else { return nil }
        let arp = UnsafeRawPointer(data + l3)
        guard ARP.isEthernetIPv4(arp), IPv4.u16(arp, ARP.offsetOperation) == ARP.opRequest else { return nil }
        let target = IPv4.u32(arp, ARP.offsetTargetIP)
        guard target != IPv4.u32(arp, ARP.offsetSenderIP) else { return nil }
        return arpTargets.find(domain: m.pointee.bridgeDomain, address: target)
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        switch r.c {
        case 0: return "l2-fwd: \(MACAddress.format(r.a)) -> sw_if_index \(r.b)"
        case 1: return "l2-fwd: broadcast/multicast -> flood"
        case 3: return "l2-fwd: arp request -> sw_if_index \(r.b) (target's owner)"
        default: return "l2-fwd: \(MACAddress.format(r.a)) unknown -> flood"
        }
    }
}
