import CXDP
import WeftEngine

/// af-xdp-input: takes frames off each AF_XDP port's rx ring and hands them to
/// ethernet-input without copying: the frame already sits in a pool buffer
/// (the UMEM is the buffer arena), so a descriptor becomes a buffer index.
/// Keeps every port's fill ring stocked and reaps its completion ring
/// (buffers transmitted by af-xdp-output go back to the pool here too, so a
/// port that only transmits still gets its buffers back).
///
/// Sets: dataOffset (from the descriptor: XDP_PACKET_HEADROOM in aligned
/// mode), length, rxInterface, flags = [] (AF_XDP carries no checksum state:
/// partial checksums are recognised and completed here, see AfXdpChecksum).
public final class AfXdpInputNode: GraphNode {
    public enum Next: String, NodeNext {
        case ethernetInput = "ethernet-input"
    }

    public enum Error: String, NodeError {
        case noBuffers = "no-buffers"
        case fillRingEmpty = "fill-ring-empty"
        case kernelRxDrops = "kernel-rx-drops"
        case kernelRingFull = "kernel-rx-ring-full"
        case invalidDescriptors = "invalid-descriptors"
        case completions = "completions"
        case checksumCompleted = "checksum-completed"
        public var help: String {
            switch self {
            case .noBuffers: return "fill-ring refills refused: buffer pool empty"
            case .fillRingEmpty: return "frames the kernel had no fill-ring buffer for (XDP_STATISTICS)"
            case .kernelRxDrops: return "frames the kernel dropped for other reasons, e.g. longer than a UMEM frame (XDP_STATISTICS)"
            case .kernelRingFull: return "frames the kernel dropped: rx ring full (XDP_STATISTICS)"
            case .invalidDescriptors: return "fill/tx descriptors the kernel rejected (XDP_STATISTICS)"
            case .completions: return "transmitted buffers returned by the kernel (informational)"
            case .checksumCompleted: return "partial TCP/UDP checksums (veth sender) completed on receive (informational)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "af-xdp-input", kind: .input, next: Next.self, errors: Error.self)

    let ports: AfXdpPorts
    var toEthernet = Int32(0)
    var errNoBuffers = UInt32(0), errFillEmpty = UInt32(0), errKernelDrops = UInt32(0), errRingFull = UInt32(0)
    var errInvalid = UInt32(0), errCompletions = UInt32(0), errChecksum = UInt32(0)

    public init(ports: AfXdpPorts) {
        self.ports = ports
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toEthernet = nextIndex(Next.ethernetInput)
        errNoBuffers = errorIndex(Error.noBuffers)
        errFillEmpty = errorIndex(Error.fillRingEmpty)
        errKernelDrops = errorIndex(Error.kernelRxDrops)
        errRingFull = errorIndex(Error.kernelRingFull)
        errInvalid = errorIndex(Error.invalidDescriptors)
        errCompletions = errorIndex(Error.completions)
        errChecksum = errorIndex(Error.checksumCompleted)
    }

    public override var pollDescriptors: [Int32] { ports.descriptors }

    /// Housekeeping (worker thread): the sockets' XDP_STATISTICS into counters.
    public func collectKernelDrops(_ graph: Graph) {
        guard ports.activeCount > 0 else { return }
        let d = ports.collectKernelDrops(into: graph.interfaces)
        if d.fillRingEmpty > 0 { graph.count(errFillEmpty, d.fillRingEmpty) }
        if d.rxDropped > 0 { graph.count(errKernelDrops, d.rxDropped) }
        if d.rxRingFull > 0 { graph.count(errRingFull, d.rxRingFull) }
        if d.invalid > 0 { graph.count(errInvalid, d.invalid) }
    }

    public override func poll(_ graph: Graph) -> Int {
        var total = 0
        for k in 0..<ports.activeCount {
            let slot = ports.activeList[k]
            total &+= receive(graph, ports.ports + Int(slot), slot: slot)
        }
        return total
    }

    @inline(__always)
    private func receive(_ graph: Graph, _ port: UnsafeMutablePointer<AfXdpPort>, slot: Int32) -> Int {
        let reaped = ports.reapCompletions(port, buffers: graph.buffers)
        if reaped > 0 { graph.count(errCompletions, UInt64(reaped)) }
        let refused = ports.refillFill(port, slot: slot, buffers: graph.buffers)
        if _slowPath(refused > 0) { graph.count(errNoBuffers, UInt64(refused)) }
        var idx: UInt32 = 0
        let n = weft_xsk_cons_peek(&port.pointee.xsk.rx, UInt32(Graph.vectorSize), &idx)
        if n == 0 { return 0 }
        var out = NextCursor(to: toEthernet)
        var traceBudget = graph.trace.remaining(index)
        let rx = port.pointee.swIfIndex
        let owner = ports.owner
        var bytes = 0
        var completed: UInt64 = 0
        for k in 0..<n {
            let addr = weft_xsk_rx_addr(&port.pointee.xsk.rx, idx &+ k)
            let len = weft_xsk_rx_len(&port.pointee.xsk.rx, idx &+ k)
            let bi = AfXdpAddress.bufferIndex(addr)
            owner[Int(bi)] = 0
            let m = graph.metadata + Int(bi)
            let off = AfXdpAddress.offset(addr)
            m.pointee.dataOffset = off
            if AfXdpChecksum.completeIfPartial(frame: graph.data(bi) + Int(off), length: Int(len)) { completed &+= 1 }
            m.pointee.length = UInt16(truncatingIfNeeded: len)
            m.pointee.rxInterface = rx
            m.pointee.flags = []
            bytes &+= Int(len)
            if _slowPath(traceBudget > 0) {
                let id = graph.trace.select(m, node: index)
                graph.trace.add(TraceRecord(packet: id, node: index, a: UInt64(rx), b: UInt64(len), c: addr))
                traceBudget -= 1
            }
            graph.put(bi, &out)
        }
        weft_xsk_cons_release(&port.pointee.xsk.rx, n)
        if completed > 0 { graph.count(errChecksum, completed) }
        graph.close(&out)
        graph.interfaces.rxPackets[Int(rx)] &+= UInt64(n)
        graph.interfaces.rxBytes[Int(rx)] &+= UInt64(bytes)
        graph.countBytes(index, Int(bytes))
        return Int(n)
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "af-xdp-input: sw_if_index \(r.a), \(r.b) bytes, umem addr 0x\(String(r.c, radix: 16)) (buffer \(r.c >> 11), offset \(r.c & 2047))"
    }
}
