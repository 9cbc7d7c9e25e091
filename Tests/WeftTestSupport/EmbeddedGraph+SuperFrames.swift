import WeftEngine
import WeftIO

/// Large frames for node tests, made as an input makes them: a buffer chain
/// (BufferChain.copy) with, for a TCPv4 GSO super-frame, the offload fields
/// VirtioNetHeader.accept would set (gsoSize, gsoType tcp4, l4Offset at the
/// TCP header, the checksum partial).
extension EmbeddedGraph {
    /// Hands `frame` to `node` (ethernet-input by default) as received on
    /// `rx`, then runs the graph. `gsoSize` 0: a plain chain.
    public func injectLarge(_ frame: [UInt8], on rx: UInt32, gsoSize: UInt16, node: String = "ethernet-input") {
        let bi = frame.withUnsafeBytes { BufferChain.copy(from: $0.baseAddress!, length: frame.count, buffers: graph.buffers) }
        precondition(bi != BufferPool.invalid, "pool empty")
        let m = graph.metadata + Int(bi)
        m.pointee.rxInterface = rx
        m.pointee.flags = []
        if gsoSize != 0 {
            let ihl = Int(frame[14] & 0x0F) * 4
            m.pointee.gsoSize = gsoSize
            m.pointee.gsoType = GSOType.tcp4.rawValue
            m.pointee.l4Offset = UInt8(14 + ihl)
            m.pointee.flags = .l4ChecksumPending
        }
        graph.enqueue(bi, to: graph.nodeIndex(named: node)!)
        graph.dispatchPending()
    }

    /// `send` for one large frame: what came out per interface (whole, as
    /// pg-output captured it) and the counters that moved.
    public func sendLarge(_ frame: [UInt8], on rx: UInt32, gsoSize: UInt16) -> (out: [UInt32: [[UInt8]]], sizes: [UInt32: [UInt16]], counters: [String: UInt64]) {
        pgOutput.clearCapture()
        let before = counters()
        injectLarge(frame, on: rx, gsoSize: gsoSize)
        run()
        return (pgOutput.captured, pgOutput.capturedSegmentSizes, counterDelta(since: before))
    }
}
