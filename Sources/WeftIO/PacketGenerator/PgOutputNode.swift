import WeftEngine
import WeftPacket

/// pg-output: the transmit side of pg interfaces. Counts and frees each frame;
/// with capture on it keeps a copy of the bytes per interface (tests compare
/// them byte for byte). Capture allocates, so benchmarks leave it off. Like
/// every real output it completes a partial L4 checksum (`.l4ChecksumPending`)
/// first, so tests see the bytes a device would have been handed.
public final class PgOutputNode: GraphNode {
    public static let registration = NodeRegistration(name: "pg-output", next: NoNext.self, errors: NoError.self)

    public var captureEnabled = false
    /// Captured frames per sw_if_index, in transmit order.
    public private(set) var captured: [UInt32: [[UInt8]]] = [:]

    public init() { super.init(registration: Self.registration) }

    public func clearCapture() { captured.removeAll() }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let txPackets = graph.interfaces.txPackets
        let txBytes = graph.interfaces.txBytes
        let tracing = graph.trace.enabled
        for i in 0..<count {
            let bi = vector[i]
            let tx = Int(md[Int(bi)].txInterface)
            let len = Int(md[Int(bi)].length)
            txPackets[tx] &+= 1
            txBytes[tx] &+= UInt64(len)
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(tx), b: UInt64(len)) }
            if _slowPath(md[Int(bi)].flags.contains(.l4ChecksumPending)) {
                Checksum.completeEthernetL4(frame: graph.current(bi), length: len)
            }
            if captureEnabled {
                let p = graph.current(bi)
                captured[UInt32(tx), default: []].append(Array(UnsafeRawBufferPointer(start: p, count: len)))
            }
        }
        graph.buffers.free(vector, count: count)
    }

    public override func formatTrace(_ r: TraceRecord) -> String { "pg-output: sw_if_index \(r.a), \(r.b) bytes" }
}
