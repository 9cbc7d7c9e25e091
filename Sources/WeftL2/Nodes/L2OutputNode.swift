import WeftEngine

/// l2-output: hands the frame to the transmit node of `txInterface`
/// (af-packet-output, pg-output, ...), or drops it if the interface is down
/// or gone.
///
/// Uses: txInterface.
public final class L2OutputNode: GraphNode {
    public enum Error: String, NodeError {
        case interfaceDown = "interface-down"
        public var help: String { "transmit interface is down or deleted" }
    }

    public static let registration = NodeRegistration(name: "l2-output", next: NoNext.self, errors: Error.self)

    var errDown = UInt32(0)

    public init() { super.init(registration: Self.registration) }

    public override func didResolve(_ graph: Graph) {
        errDown = errorIndex(Error.interfaceDown)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let up = graph.interfaces.up
        let outputNode = graph.interfaces.outputNode
        let tracing = graph.trace.enabled
        for i in 0..<count {
            let bi = vector[i]
            let tx = Int(md[Int(bi)].txInterface)
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(tx)) }
            let target = outputNode[tx]
            if _slowPath(!up[tx] || target < 0) { graph.drop(bi, error: errDown); continue }
            graph.enqueue(bi, to: target)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String { "l2-output: sw_if_index \(r.a)" }
}
