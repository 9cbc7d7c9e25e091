import WeftEngine
import WeftPacket

/// pg-output: the transmit side of pg interfaces. Counts and frees each frame;
/// with capture on it keeps a copy of the bytes per interface (tests compare
/// them byte for byte). Capture allocates, so benchmarks leave it off. Like
/// every real output it completes a partial L4 checksum (`.l4ChecksumPending`)
/// first, so tests see the bytes a device would have been handed. A chain or
/// GSO super-frame (pg interfaces with InterfaceTable.takesLargeFrames) is
/// captured whole as it would be handed to a kernel: gathered, its checksum
/// left partial, its segment size in `capturedSegmentSizes`.
public final class PgOutputNode: GraphNode {
    public static let registration = NodeRegistration(name: "pg-output", next: NoNext.self, errors: NoError.self)

    public var captureEnabled = false
    /// Captured frames per sw_if_index, in transmit order.
    public private(set) var captured: [UInt32: [[UInt8]]] = [:]
    /// The gsoSize of each captured frame (0: not GSO), parallel to `captured`.
    public private(set) var capturedSegmentSizes: [UInt32: [UInt16]] = [:]

    public init() { super.init(registration: Self.registration) }

    public func clearCapture() { captured.removeAll(); capturedSegmentSizes.removeAll() }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let txPackets = graph.interfaces.txPackets
        let txBytes = graph.interfaces.txBytes
        let tracing = graph.trace.enabled
        var sent = 0
        for i in 0..<count {
            let bi = vector[i]
            let tx = Int(md[Int(bi)].txInterface)
            let len = Int(md[Int(bi)].length)
            let large = md[Int(bi)].isChained || md[Int(bi)].gsoSize != 0
            txPackets[tx] &+= 1
            txBytes[tx] &+= UInt64(md[Int(bi)].totalLength)
            sent &+= md[Int(bi)].totalLength
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(tx), b: UInt64(md[Int(bi)].totalLength)) }
            if _slowPath(md[Int(bi)].flags.contains(.l4ChecksumPending)) && !large {
                Checksum.completeEthernetL4(frame: graph.current(bi), length: len)
            }
            if captureEnabled {
                var bytes = [UInt8](repeating: 0, count: md[Int(bi)].totalLength)
                _ = bytes.withUnsafeMutableBytes { BufferChain.gather(bi, to: $0.baseAddress!, pool: graph.pool) }
                captured[UInt32(tx), default: []].append(bytes)
                capturedSegmentSizes[UInt32(tx), default: []].append(md[Int(bi)].gsoSize)
            }
        }
        graph.countBytes(index, sent)
        graph.buffers.free(vector, count: count)
    }

    public override func formatTrace(_ r: TraceRecord) -> String { "pg-output: sw_if_index \(r.a), \(r.b) bytes" }
}
