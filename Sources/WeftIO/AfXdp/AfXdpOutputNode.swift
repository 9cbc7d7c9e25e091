#if canImport(Glibc)
import Glibc
#endif
import CXDP
import WeftEngine
import WeftPacket

/// af-xdp-output: transmits any pool buffer (received by af-packet, by
/// af-xdp, or made here) without copying: its address and length go on the
/// port's tx ring, and the buffer stays the kernel's until its address comes
/// back on the completion ring (reaped here after the kick, and by
/// af-xdp-input). So this node frees only what it could not queue.
/// Descriptors are submitted and the kernel kicked once per port per vector,
/// and only when it asked (XDP_USE_NEED_WAKEUP; copy mode always asks).
/// Partial L4 checksums (veth senders) are completed first, as af-packet-output does.
///
/// Uses: txInterface, dataOffset, length, flags(.l4ChecksumPending).
public final class AfXdpOutputNode: GraphNode {
    public enum Error: String, NodeError {
        case txRingFull = "tx-ring-full"
        case notAfXdp = "not-af-xdp"
        case kickFailed = "tx-kick-failed"
        case kickBusy = "tx-kick-busy"
        case completions = "completions"
        public var help: String {
            switch self {
            case .txRingFull: return "frames dropped: transmit ring full"
            case .notAfXdp: return "transmit interface has no af-xdp port"
            case .kickFailed: return "sendto on the socket failed (frames stay queued)"
            case .kickBusy: return "sendto returned EAGAIN/EBUSY: the kernel is still sending (frames stay queued)"
            case .completions: return "transmitted buffers returned by the kernel and freed (informational)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "af-xdp-output", next: NoNext.self, errors: Error.self)

    /// sendto calls per port per vector at most: in copy mode the kernel sends
    /// a bounded batch per call (32 frames on 6.x), so a full vector needs several.
    static let maxKicks = 16

    let ports: AfXdpPorts
    var errFull = UInt32(0), errNotAfXdp = UInt32(0), errKick = UInt32(0), errBusy = UInt32(0), errCompletions = UInt32(0)
    /// Ports written in the current vector, to submit and kick once each.
    let touched: UnsafeMutablePointer<Int32>

    public init(ports: AfXdpPorts) {
        self.ports = ports
        touched = .allocate(capacity: Graph.vectorSize)
        super.init(registration: Self.registration)
    }

    deinit { touched.deallocate() }

    public override func didResolve(_ graph: Graph) {
        errFull = errorIndex(Error.txRingFull)
        errNotAfXdp = errorIndex(Error.notAfXdp)
        errKick = errorIndex(Error.kickFailed)
        errBusy = errorIndex(Error.kickBusy)
        errCompletions = errorIndex(Error.completions)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let instance = graph.interfaces.driverInstance
        let txPackets = graph.interfaces.txPackets
        let txBytes = graph.interfaces.txBytes
        let drops = graph.interfaces.drops
        let portTable = ports.ports
        let owner = ports.owner
        let tracing = graph.trace.enabled
        var touchedCount = 0
        var sent = 0
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let tx = Int(m.pointee.txInterface)
            let slot = instance[tx]
            if _slowPath(slot < 0 || !portTable[Int(slot)].active) {
                graph.count(errNotAfXdp); drops[tx] &+= 1; graph.buffers.free(bi); continue
            }
            let port = portTable + Int(slot)
            var idx: UInt32 = 0
            if _slowPath(weft_xsk_prod_reserve(&port.pointee.xsk.tx, 1, &idx) == 0) {
                // Take back what the kernel has sent, then try once more.
                graph.count(errCompletions, UInt64(ports.reapCompletions(port, buffers: graph.buffers)))
                if weft_xsk_prod_reserve(&port.pointee.xsk.tx, 1, &idx) == 0 {
                    graph.count(errFull); drops[tx] &+= 1; graph.buffers.free(bi); continue
                }
            }
            let off = m.pointee.dataOffset
            let len = Int(m.pointee.length)
            if _slowPath(m.pointee.flags.contains(.l4ChecksumPending)) {
                Checksum.completeEthernetL4(frame: graph.data(bi) + Int(off), length: len)
                m.pointee.flags.remove(.l4ChecksumPending)
            }
            weft_xsk_tx_set(&port.pointee.xsk.tx, idx, AfXdpAddress.address(bi, offset: off), UInt32(len))
            owner[Int(bi)] = UInt16(truncatingIfNeeded: slot &+ 1)
            if port.pointee.txQueued == 0 {
                touched[touchedCount] = slot
                touchedCount &+= 1
            }
            port.pointee.txQueued &+= 1
            txPackets[tx] &+= 1
            txBytes[tx] &+= UInt64(len)
            sent &+= len
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(tx), b: UInt64(len)) }
        }
        graph.countBytes(index, sent)
        for k in 0..<touchedCount {
            let port = portTable + Int(touched[k])
            weft_xsk_prod_submit(&port.pointee.xsk.tx, port.pointee.txQueued)
            port.pointee.txQueued = 0
            kick(graph, port)
            let reaped = ports.reapCompletions(port, buffers: graph.buffers)
            if reaped > 0 { graph.count(errCompletions, UInt64(reaped)) }
        }
    }

    /// Wakes the kernel until it has taken every queued descriptor, or stops
    /// making progress (the rest goes with the next vector's kick).
    @inline(__always)
    private func kick(_ graph: Graph, _ port: UnsafeMutablePointer<AfXdpPort>) {
        var kicks = 0
        while weft_xsk_prod_needs_wakeup(&port.pointee.xsk.tx) != 0 && kicks < AfXdpOutputNode.maxKicks {
            let before = weft_xsk_prod_outstanding(&port.pointee.xsk.tx)
            if before == 0 { return }
            let rc = weft_xsk_kick_tx(port.pointee.xsk.fd)
            kicks &+= 1
            if rc != 0 {
                if rc == -EAGAIN || rc == -EBUSY || rc == -ENOBUFS {
                    // Copy mode answers EAGAIN after each batch it sent: go on while it moves.
                    if weft_xsk_prod_outstanding(&port.pointee.xsk.tx) < before { continue }
                    graph.count(errBusy)
                } else {
                    graph.count(errKick)
                }
                return
            }
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String { "af-xdp-output: sw_if_index \(r.a), \(r.b) bytes, zero-copy to tx ring" }
}
