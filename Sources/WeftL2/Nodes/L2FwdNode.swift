import WeftEngine
import WeftPacket

/// l2-fwd: looks up the destination MAC in the frame's bridge domain.
/// Known unicast goes to l2-output on the learned interface; broadcast,
/// multicast and unknown unicast go to l2-flood. A frame whose destination
/// lives behind the interface it came from is filtered, as a switch does.
///
/// Uses: bridgeDomain, rxInterface, l2Offset, flags(.multicast). Sets: txInterface.
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
        public var help: String {
            switch self {
            case .filtered: return "destination is on the receiving interface"
            case .unknownUnicast: return "unknown unicast destinations flooded"
            case .splitHorizon: return "destination is in the receiving interface's split-horizon group"
            }
        }
    }

    public static let registration = NodeRegistration(name: "l2-fwd", next: Next.self, errors: Error.self)

    let table: MacTable
    var toOutput = Int32(0), toFlood = Int32(0)
    var errFiltered = UInt32(0), errUnknown = UInt32(0), errSplitHorizon = UInt32(0)

    public init(table: MacTable) {
        self.table = table
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toOutput = nextIndex(Next.output)
        toFlood = nextIndex(Next.flood)
        errFiltered = errorIndex(Error.filtered)
        errUnknown = errorIndex(Error.unknownUnicast)
        errSplitHorizon = errorIndex(Error.splitHorizon)
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

    public override func formatTrace(_ r: TraceRecord) -> String {
        switch r.c {
        case 0: return "l2-fwd: \(MACAddress.format(r.a)) -> sw_if_index \(r.b)"
        case 1: return "l2-fwd: broadcast/multicast -> flood"
        default: return "l2-fwd: \(MACAddress.format(r.a)) unknown -> flood"
        }
    }
}
