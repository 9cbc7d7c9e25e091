/// error-drop: the one place buffers die. Counts each buffer under the error
/// its sender set in `metadata.error` (`/err/<node>/<name>`) and frees it.
public final class ErrorDropNode: GraphNode {
    public init() {
        super.init(registration: NodeRegistration(name: "error-drop", next: NoNext.self, errors: NoError.self))
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let counters = graph.errorCounters
        let rxDrops = graph.interfaces.drops
        let tracing = graph.trace.enabled
        for i in 0..<count {
            let bi = vector[i]
            counters[Int(md[Int(bi)].error)] &+= 1
            rxDrops[Int(md[Int(bi)].rxInterface)] &+= 1
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(md[Int(bi)].error)) }
        }
        graph.buffers.free(vector, count: count)
    }

    public override func formatTrace(_ record: TraceRecord) -> String {
        "error-drop: counter #\(record.a)"
    }
}
