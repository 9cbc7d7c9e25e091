import WeftEngine
import WeftPacket

/// l2-learn: records which interface each source MAC lives behind. A MAC
/// seen on a new interface moves, unless it is a static entry (counted under
/// `static-mac-move`, not moved: e.g. the anycast gateway MAC every node's
/// BVI shares, seen again from across a VXLAN tunnel); past the domain's
/// learn limit new MACs are counted and not learned. The frame is forwarded
/// in every case.
///
/// Uses: bridgeDomain, rxInterface, l2Offset.
public final class L2LearnNode: GraphNode {
    public enum Next: String, NodeNext {
        case fwd = "l2-fwd"
    }

    public enum Error: String, NodeError {
        case learned = "learned"
        case moved = "moved"
        case limitReached = "learn-limit"
        case tableFull = "table-full"
        case staticMove = "static-mac-move"
        public var help: String {
            switch self {
            case .learned: return "MACs learned"
            case .moved: return "MACs moved to another interface"
            case .limitReached: return "MACs not learned: bridge domain learn limit reached"
            case .tableFull: return "MACs not learned: MAC table full"
            case .staticMove: return "source MAC is a static entry on another interface: not moved"
            }
        }
    }

    public static let registration = NodeRegistration(name: "l2-learn", next: Next.self, errors: Error.self)

    let table: MacTable
    var toFwd = Int32(0)
    var errLearned = UInt32(0), errMoved = UInt32(0), errLimit = UInt32(0), errFull = UInt32(0), errStatic = UInt32(0)

    public init(table: MacTable) {
        self.table = table
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toFwd = nextIndex(Next.fwd)
        errLearned = errorIndex(Error.learned)
        errMoved = errorIndex(Error.moved)
        errLimit = errorIndex(Error.limitReached)
        errFull = errorIndex(Error.tableFull)
        errStatic = errorIndex(Error.staticMove)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let now = graph.nowSeconds
        let tracing = graph.trace.enabled
        var out = NextCursor(to: toFwd)
        defer { graph.close(&out) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let src = Ethernet.source(graph.data(bi) + Int(m.pointee.l2Offset))
            let result = table.learn(domain: m.pointee.bridgeDomain, mac: src, interface: m.pointee.rxInterface, now: now)
            switch result {
            case .refreshed: break
            case .learned: graph.count(errLearned)
            case .moved: graph.count(errMoved)
            case .limitReached: graph.count(errLimit)
            case .tableFull: graph.count(errFull)
            case .staticEntry: graph.count(errStatic)
            }
            if tracing {
                let code: UInt64 = result == .refreshed ? 0 : result == .learned ? 1 : result == .moved ? 2
                    : result == .staticEntry ? 4 : 3
                graph.traceIfSelected(bi, node: index, a: src, b: UInt64(m.pointee.rxInterface), c: code)
            }
            graph.put(bi, &out)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let what = ["refreshed", "learned", "moved", "not learned", "static, not moved"][Int(min(r.c, 4))]
        return "l2-learn: \(MACAddress.format(r.a)) on sw_if_index \(r.b) \(what)"
    }
}
