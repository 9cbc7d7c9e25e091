import WeftEngine
import WeftPacket

/// bvi: the output node of every bridge-virtual interface (BVI), the router's
/// port in a bridge domain. A BVI is an ordinary member of its domain whose
/// MAC is the router's, so the L2 path needs no check of its own: l2-fwd
/// resolves the router's MAC (learned like any other) to the BVI, l2-flood
/// copies broadcasts to it, and l2-output hands those frames here.
///
/// Two directions meet here, told apart by the source MAC:
/// - **into L3** (from l2-output): the frame is received on the BVI:
///   `rxInterface` = the BVI, IPv4 to ip4-input, ARP to arp-input.
/// - **into the bridge domain** (from ip4-rewrite, ip4-arp, arp-input, whose
///   frames carry the BVI's MAC as source): the frame enters the domain as if
///   received on the BVI: `rxInterface` = the BVI, on to l2-input (learning
///   keeps the router's MAC in the MAC table, then l2-fwd or l2-flood).
///
/// Super-frames (chains, GSO) pass both ways whole: a BVI takes large
/// frames (InterfaceTable.takesLargeFrames), nothing here reads past the headers.
///
/// Uses: txInterface, l2Offset, l3Offset, etherType. Sets: rxInterface, flags(.multicast).
public final class BVINode: GraphNode {
    public enum Next: String, NodeNext {
        case l2Input = "l2-input"
        case ip4Input = "ip4-input"
        case arpInput = "arp-input"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case notIP = "not-ip4-or-arp"
        case noAddress = "no-address"
        public var help: String {
            switch self {
            case .notIP: return "frame for the router is neither IPv4 nor ARP"
            case .noAddress: return "BVI has no IPv4 address"
            }
        }
    }

    public static let registration = NodeRegistration(name: "bvi", next: Next.self, errors: Error.self)

    let ip4: IP4Feature
    var toL2 = Int32(0), toIP4 = Int32(0), toARP = Int32(0)
    var errNotIP = UInt32(0), errNoAddress = UInt32(0)

    public init(ip4: IP4Feature) {
        self.ip4 = ip4
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toL2 = nextIndex(Next.l2Input)
        toIP4 = nextIndex(Next.ip4Input)
        toARP = nextIndex(Next.arpInput)
        errNotIP = errorIndex(Error.notIP)
        errNoAddress = errorIndex(Error.noAddress)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let enabled = ip4.interfaces.enabled
        let routerMAC = ip4.interfaces.mac
        let tracing = graph.trace.enabled
        let ifs = graph.interfaces
        var l2 = NextCursor(to: toL2)
        var l3 = NextCursor(to: toIP4)
        defer { graph.close(&l2); graph.close(&l3) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let bvi = Int(m.pointee.txInterface)
            if _slowPath(!enabled[bvi]) { graph.drop(bi, error: errNoAddress); continue }
            let p = graph.data(bi) + Int(m.pointee.l2Offset)
            let src = Ethernet.source(p)
            m.pointee.rxInterface = UInt32(truncatingIfNeeded: bvi)
            let bytes = UInt64(m.pointee.length)
            if src == routerMAC[bvi] {
                // The router transmits on its BVI (counted as the BVI's tx).
                ifs.txPackets[bvi] &+= 1
                ifs.txBytes[bvi] &+= bytes
                // Routed out: into the bridge domain.
                if p.load(as: UInt8.self) & 1 == 1 { m.pointee.flags.insert(.multicast) } else { m.pointee.flags.remove(.multicast) }
                if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(bvi), c: 0) }
                graph.put(bi, &l2)
                continue
            }
            // The router receives on its BVI.
            ifs.rxPackets[bvi] &+= 1
            ifs.rxBytes[bvi] &+= bytes
            let type = m.pointee.etherType
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(bvi), c: 1, d: UInt64(type)) }
            if type == Ethernet.typeIPv4 { graph.put(bi, &l3); continue }
            if type == Ethernet.typeARP { graph.enqueue(bi, to: toARP); continue }
            graph.drop(bi, error: errNotIP)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        r.c == 0 ? "bvi: sw_if_index \(r.a) routed out -> bridge domain" : "bvi: sw_if_index \(r.a) received -> L3"
    }
}
