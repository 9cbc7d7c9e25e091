import WeftEngine
import WeftPacket

/// l2-input: puts the frame into its receive interface's bridge domain and
/// rejects frames that no switch may forward.
///
/// Uses: rxInterface, l2Offset. Sets: bridgeDomain.
public final class L2InputNode: GraphNode {
    public enum Next: String, NodeNext {
        case learn = "l2-learn"
        case fwd = "l2-fwd"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case sourceMulticast = "source-multicast"
        case bridgeDomainDown = "bridge-domain-missing"
        public var help: String {
            switch self {
            case .sourceMulticast: return "source MAC is multicast or broadcast"
            case .bridgeDomainDown: return "interface's bridge domain does not exist"
            }
        }
    }

    public static let registration = NodeRegistration(name: "l2-input", next: Next.self, errors: Error.self)

    let domains: BridgeDomainTable
    var toLearn = Int32(0), toFwd = Int32(0)
    var errSourceMulticast = UInt32(0), errNoDomain = UInt32(0)

    public init(domains: BridgeDomainTable) {
        self.domains = domains
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toLearn = nextIndex(Next.learn)
        toFwd = nextIndex(Next.fwd)
        errSourceMulticast = errorIndex(Error.sourceMulticast)
        errNoDomain = errorIndex(Error.bridgeDomainDown)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let ifBD = graph.interfaces.bridgeDomain
        let exists = domains.exists
        let learning = domains.learning
        let tracing = graph.trace.enabled
        var toLearnCursor = NextCursor(to: toLearn)
        defer { graph.close(&toLearnCursor) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let bd = ifBD[Int(m.pointee.rxInterface)]
            let p = graph.data(bi) + Int(m.pointee.l2Offset)
            if _slowPath(p.load(fromByteOffset: 6, as: UInt8.self) & 1 == 1) { graph.drop(bi, error: errSourceMulticast); continue }
            if _slowPath(!exists[Int(bd)]) { graph.drop(bi, error: errNoDomain); continue }
            m.pointee.bridgeDomain = bd
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(bd), b: UInt64(m.pointee.rxInterface)) }
            if learning[Int(bd)] { graph.put(bi, &toLearnCursor) } else { graph.enqueue(bi, to: toFwd) }
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "l2-input: bridge-domain \(r.a) from sw_if_index \(r.b)"
    }
}
