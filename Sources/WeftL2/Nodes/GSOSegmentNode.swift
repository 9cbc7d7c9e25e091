import WeftEngine
import WeftPacket

/// gso-segment: cuts a GSO super-frame (or a buffer chain) into frames the
/// transmit interface can take, for ports that cannot take it whole
/// (af-packet, af-xdp, the gateway, a VXLAN tunnel; l2-output decides). Each
/// segment is a single buffer with its own headers and complete checksums
/// (GSOSegmentation: TCP sequence numbers, IP ids, lengths, FIN/PSH on the
/// last only), handed to the interface's output node; the super-frame is
/// freed. A chain is first gathered into a 64 KB scratch: one copy more than
/// segmenting in place, taken only on this path.
///
/// Uses: txInterface, gsoSize, gsoType, l4Offset, chainLength, dataOffset, length.
public final class GSOSegmentNode: GraphNode {
    public enum Error: String, NodeError {
        case segmented = "segmented"
        case unsupported = "unsupported"
        case badFrame = "bad-frame"
        case tooLong = "too-long"
        case noBuffers = "no-buffers"
        public var help: String {
            switch self {
            case .segmented: return "segments made from super-frames (counted, not dropped)"
            case .unsupported: return "super-frames of a kind not segmented here (TCPv6, UDP, VLAN-tagged): dropped"
            case .badFrame: return "super-frames whose headers contradict their GSO metadata: dropped"
            case .tooLong: return "chains that are not GSO frames, for a port that takes one buffer per frame: dropped"
            case .noBuffers: return "super-frames dropped whole because the pool could not give every segment a buffer"
            }
        }
    }

    public static let registration = NodeRegistration(name: "gso-segment", next: NoNext.self, errors: Error.self)

    var errSegmented = UInt32(0), errUnsupported = UInt32(0), errBad = UInt32(0), errTooLong = UInt32(0)
    var errNoBuffers = UInt32(0)
    let scratch: UnsafeMutableRawPointer
    let segments: UnsafeMutablePointer<UInt32>

    public init() {
        scratch = .allocate(byteCount: BufferChain.maxFrameLength, alignment: 64)
        segments = .allocate(capacity: GSOSegmentation.maxSegments)
        super.init(registration: Self.registration)
    }

    deinit { scratch.deallocate(); segments.deallocate() }

    public override func didResolve(_ graph: Graph) {
        errSegmented = errorIndex(Error.segmented)
        errUnsupported = errorIndex(Error.unsupported)
        errBad = errorIndex(Error.badFrame)
        errTooLong = errorIndex(Error.tooLong)
        errNoBuffers = errorIndex(Error.noBuffers)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        for i in 0..<count { segment(graph, vector[i]) }
    }

    private func segment(_ graph: Graph, _ bi: UInt32) {
        let m = graph.metadata + Int(bi)
        let segmentSize = Int(m.pointee.gsoSize)
        guard segmentSize > 0 else { graph.drop(bi, error: errTooLong); return }
        let length = m.pointee.totalLength
        let frame: UnsafeRawPointer
        if m.pointee.isChained {
            guard length <= BufferChain.maxFrameLength else { graph.drop(bi, error: errBad); return }
            _ = BufferChain.gather(bi, to: scratch, pool: graph.pool)
            frame = UnsafeRawPointer(scratch)
        } else {
            frame = UnsafeRawPointer(graph.current(bi))
        }
        guard let kind = GSOType(rawValue: m.pointee.gsoType), kind == .tcp4 || kind == .udpL4 else {
            graph.drop(bi, error: errUnsupported); return
        }
        let start = m.pointee.l4Offset == 0 ? nil : Int(m.pointee.l4Offset)
        let layout: GSOSegmentation.Layout
        switch GSOSegmentation.parse(frame, length: length, kind: kind, checksumStart: start) {
        case .success(let l): layout = l
        case .failure(.unsupported): graph.drop(bi, error: errUnsupported); return
        case .failure: graph.drop(bi, error: errBad); return
        }
        guard layout.headerLength &+ segmentSize <= BufferPool.maxDataLength else { graph.drop(bi, error: errBad); return }
        let n = GSOSegmentation.segmentCount(layout: layout, length: length, segmentSize: segmentSize)
        guard n <= GSOSegmentation.maxSegments else { graph.drop(bi, error: errBad); return }
        guard BufferChain.take(n, into: segments, buffers: graph.buffers) else { graph.drop(bi, error: errNoBuffers); return }
        let target = graph.interfaces.outputNode[Int(m.pointee.txInterface)]
        let traced = m.pointee.flags.contains(.traced)
        for k in 0..<n {
            let s = segments[k]
            let sm = graph.metadata + Int(s)
            let len = GSOSegmentation.writeSegment(k, of: frame, length: length, layout: layout, segmentSize: segmentSize,
                                                   to: graph.data(s) + BufferPool.headroom)
            // The super-frame's metadata, as one frame of it: its own offsets and length,
            // checksums complete, no chain, no GSO.
            sm.pointee = m.pointee
            sm.pointee.dataOffset = UInt16(BufferPool.headroom)
            sm.pointee.l2Offset = UInt16(BufferPool.headroom) &+ (m.pointee.l2Offset &- m.pointee.dataOffset)
            sm.pointee.l3Offset = UInt16(BufferPool.headroom) &+ (m.pointee.l3Offset &- m.pointee.dataOffset)
            sm.pointee.length = UInt16(truncatingIfNeeded: len)
            sm.pointee.flags.remove(.l4ChecksumPending)
            if k > 0 { sm.pointee.flags.remove(.traced) }
            sm.pointee.nextBuffer = BufferPool.invalid
            sm.pointee.chainLength = 0
            sm.pointee.gsoSize = 0
            sm.pointee.gsoType = 0
            sm.pointee.l4Offset = 0
            graph.enqueue(s, to: target)
        }
        if traced { graph.traceIfSelected(bi, node: index, a: UInt64(n), b: UInt64(length), c: UInt64(segmentSize)) }
        m.pointee.flags.remove(.traced)
        graph.count(errSegmented, UInt64(n))
        graph.buffers.free(bi)
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "gso-segment: \(r.b) bytes into \(r.a) segments of \(r.c)"
    }
}
