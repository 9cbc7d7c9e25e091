import WeftEngine

/// l2-output: hands the frame to the transmit node of `txInterface`
/// (af-packet-output, pg-output, ...), or drops it if the interface is down
/// or gone, or when it exceeds the ingress bandwidth limit of the transmit
/// interface (PolicerTable: ingressRate/ingressBurst of the container behind it).
/// A buffer chain or GSO super-frame whose interface cannot take it whole
/// (InterfaceTable.takesLargeFrames) goes to gso-segment first.
///
/// Uses: txInterface, length, chainLength, gsoSize.
public final class L2OutputNode: GraphNode {
    public enum Error: String, NodeError {
        case interfaceDown = "interface-down"
        case policed = "policed"
        public var help: String {
            switch self {
            case .interfaceDown: return "transmit interface is down or deleted"
            case .policed: return "frames to a container over its ingress bandwidth limit (ingressRate/ingressBurst)"
            }
        }
    }

    public enum Next: String, NodeNext {
        case segment = "gso-segment"
    }

    public static let registration = NodeRegistration(name: "l2-output", next: Next.self, errors: Error.self)

    let policer: PolicerTable
    var errDown = UInt32(0), errPoliced = UInt32(0)
    var toSegment = Int32(0)

    public init(policer: PolicerTable = PolicerTable()) {
        self.policer = policer
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        errDown = errorIndex(Error.interfaceDown)
        errPoliced = errorIndex(Error.policed)
        toSegment = nextIndex(Next.segment)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let up = graph.interfaces.up
        let outputNode = graph.interfaces.outputNode
        let takesLarge = graph.interfaces.takesLargeFrames
        let tracing = graph.trace.enabled
        let buckets = policer.ingress, hz = policer.hz
        var now = UInt64(0)  // read once per vector, at the first policed frame
        for i in 0..<count {
            let bi = vector[i]
            let tx = Int(md[Int(bi)].txInterface)
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(tx)) }
            let target = outputNode[tx]
            if _slowPath(!up[tx] || target < 0) { graph.drop(bi, error: errDown); continue }
            if _slowPath(buckets[tx].bytesPerSecond != 0) {
                if now == 0 { now = policer.clock() }
                if !PolicerTable.conform(buckets + tx, bytes: md[Int(bi)].totalLength, now: now, hz: hz) {
                    graph.drop(bi, error: errPoliced)
                    continue
                }
            }
            // A super-frame or chain for a port that cannot take one whole: cut it first.
            if _slowPath((md[Int(bi)].chainLength != 0 || md[Int(bi)].gsoSize != 0) && takesLarge[tx] == 0) {
                graph.enqueue(bi, to: toSegment)
                continue
            }
            graph.enqueue(bi, to: target)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String { "l2-output: sw_if_index \(r.a)" }
}
