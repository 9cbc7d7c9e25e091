import CShims
import WeftEngine
import WeftPacket

/// af-packet-output: copies frames into their port's tx ring (V2 or V3 slots) and kicks the
/// kernel once per port per vector (one sendto for up to 256 frames).
/// Partial L4 checksums left by veth senders are completed first: the
/// receiving veth would otherwise drop TCP (ping works, TCP breaks).
///
/// On V2 rings every frame is preceded by a zeroed virtio-net header
/// (PACKET_VNET_HDR, which the socket needs to receive GSO frames whole).
///
/// A chain or GSO super-frame (a pod's 64 KB TCP send) does not fit a
/// 2048-byte slot: it goes whole through the worker's ring-less packet socket
/// (AfPacketPorts.largeFrameSocket) with one sendmsg, its virtio-net header
/// carrying the GSO fields and the still-partial checksum, so the receiving
/// pod's kernel gets one frame and nothing is segmented on the way. Slots
/// already filled for the same port are kicked first, so the port's frames
/// leave in the order they came.
///
/// In-order TCP segments of one flow for the same port are first joined
/// into super-frames (GROCoalescer), so a pod gets 64 KB frames from a
/// sender behind a tunnel or the uplink too.
///
/// Uses: txInterface, dataOffset, length, flags(.l4ChecksumPending); for
/// chains and GSO frames nextBuffer, chainLength, gsoSize, gsoType, l4Offset.
public final class AfPacketOutputNode: GraphNode {
    public enum Error: String, NodeError {
        case txRingFull = "tx-ring-full"
        case notAfPacket = "not-af-packet"
        case kickFailed = "tx-kick-failed"
        case largeSent = "large-sent"
        case largeFailed = "large-send-failed"
        case groMerged = "gro-merged"
        public var help: String {
            switch self {
            case .groMerged: return "TCP segments joined to the one before them into one super-frame (GROCoalescer; counted, not dropped)"
            case .largeSent: return "chains and GSO super-frames sent whole (counted, not dropped)"
            case .largeFailed: return "chains and GSO super-frames dropped: their metadata contradicts the frame, or sendmsg failed"
            case .txRingFull: return "frames dropped: transmit ring full"
            case .notAfPacket: return "transmit interface has no af-packet port"
            case .kickFailed: return "sendto on the tx ring failed (ENOBUFS: the device or its peer's backlog was full): the frame being sent is lost, the rest stay queued for the next kick"
            }
        }
    }

    public static let registration = NodeRegistration(name: "af-packet-output", next: NoNext.self, errors: Error.self)

    let ports: AfPacketPorts
    var errFull = UInt32(0), errNotAfPacket = UInt32(0), errKick = UInt32(0), errLargeSent = UInt32(0), errLargeFailed = UInt32(0)
    var errGROMerged = UInt32(0)
    let coalescer = GROCoalescer()
    /// Ports written in the current vector, to kick once each.
    let touched: UnsafeMutablePointer<Int32>

    public init(ports: AfPacketPorts) {
        self.ports = ports
        touched = .allocate(capacity: Graph.vectorSize)
        super.init(registration: Self.registration)
    }

    deinit { touched.deallocate() }

    public override func didResolve(_ graph: Graph) {
        errFull = errorIndex(Error.txRingFull)
        errNotAfPacket = errorIndex(Error.notAfPacket)
        errKick = errorIndex(Error.kickFailed)
        errLargeSent = errorIndex(Error.largeSent)
        errLargeFailed = errorIndex(Error.largeFailed)
        errGROMerged = errorIndex(Error.groMerged)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ frames: Int) {
        let count = coalescer.coalesce(graph, vector, frames)
        if _slowPath(count != frames) { graph.count(errGROMerged, coalescer.takeMerged()) }
        let md = graph.metadata
        let instance = graph.interfaces.driverInstance
        let txPackets = graph.interfaces.txPackets
        let txBytes = graph.interfaces.txBytes
        let drops = graph.interfaces.drops
        let portTable = ports.ports
        let tracing = graph.trace.enabled
        var sent = 0
        var touchedCount = 0
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let tx = Int(m.pointee.txInterface)
            let slot = instance[tx]
            if _slowPath(slot < 0) { graph.count(errNotAfPacket); drops[tx] &+= 1; continue }
            let port = portTable + Int(slot)
            if _slowPath(!port.pointee.active) { graph.count(errNotAfPacket); drops[tx] &+= 1; continue }
            if _slowPath(m.pointee.isChained || m.pointee.gsoSize != 0) {
                if sendLarge(graph, bi, m, port) {
                    txPackets[tx] &+= 1
                    txBytes[tx] &+= UInt64(m.pointee.totalLength)
                    sent &+= m.pointee.totalLength
                } else {
                    drops[tx] &+= 1
                }
                continue
            }
            let frameSize = Int(port.pointee.ring.tx_frame_size)
            let frame = UnsafeMutableRawPointer(port.pointee.ring.tx_ring!) + Int(port.pointee.txSlot) * frameSize
            let v3 = port.pointee.ring.version == 3
            let status = v3 ? weft_v3_tx_status(frame) : weft_v2_status(frame)
            if _slowPath(status != UInt32(WEFT_TP_STATUS_AVAILABLE) && status != UInt32(WEFT_TP_STATUS_WRONG_FORMAT)) {
                graph.count(errFull); drops[tx] &+= 1; continue
            }
            let p = graph.data(bi) + Int(m.pointee.dataOffset)
            let len = Int(m.pointee.length)
            if _slowPath(m.pointee.flags.contains(.l4ChecksumPending)) { Checksum.completeEthernetL4(frame: p, length: len) }
            // With PACKET_VNET_HDR the kernel reads a virtio-net header first: all
            // zero = one complete frame (no GSO, checksum already complete).
            let vnet = Int(port.pointee.ring.vnet_hdr_len)
            let data = frame + Int(port.pointee.ring.tx_data_offset)
            if vnet != 0 {
                data.storeBytes(of: 0, as: UInt64.self)
                (data + 8).storeBytes(of: 0, as: UInt16.self)
            }
            (data + vnet).copyMemory(from: p, byteCount: len)
            if v3 { weft_v3_tx_submit(frame, UInt32(len &+ vnet)) } else { weft_v2_tx_submit(frame, UInt32(len &+ vnet)) }
            port.pointee.txSlot = port.pointee.txSlot &+ 1 == port.pointee.ring.tx_frame_count ? 0 : port.pointee.txSlot &+ 1
            if !port.pointee.txPending {
                port.pointee.txPending = true
                touched[touchedCount] = slot
                touchedCount &+= 1
            }
            txPackets[tx] &+= 1
            txBytes[tx] &+= UInt64(len)
            sent &+= len
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(tx), b: UInt64(len)) }
        }
        graph.countBytes(index, sent)
        for k in 0..<touchedCount {
            let port = portTable + Int(touched[k])
            if !port.pointee.txPending { continue }   // kicked already, before a large frame
            port.pointee.txPending = false
            let rc = weft_afp_kick_tx(port.pointee.ring.fd)
            if rc != 0 && rc != -EAGAIN { graph.count(errKick) }
        }
        graph.buffers.free(vector, count: count)
    }

    /// One chain or super-frame through the large-frame socket (see the type's doc).
    @inline(never)
    private func sendLarge(_ graph: Graph, _ bi: UInt32, _ m: UnsafeMutablePointer<BufferMetadata>,
                           _ port: UnsafeMutablePointer<AfPacketPort>) -> Bool {
        let fd = ports.largeFrameSocket
        let frame = graph.data(bi) + Int(m.pointee.dataOffset)
        guard fd >= 0 else { graph.count(errLargeFailed); return false }
        if port.pointee.txPending {
            port.pointee.txPending = false
            let rc = weft_afp_kick_tx(port.pointee.ring.fd)
            if rc != 0 && rc != -EAGAIN { graph.count(errKick) }
        }
        let sent = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: VirtioNetHeader.length) { header -> Int in
            let h = UnsafeMutableRawPointer(header.baseAddress!)
            guard VirtioNetHeader.write(h, for: m, frame: frame) else { return -Int(EINVAL) }
            return ChainIO.withPieces(header: h, head: bi, graph: graph) { v, count in
                weft_afp_send_large(fd, port.pointee.ring.ifindex, v, count)
            }
        }
        if sent < 0 { graph.count(errLargeFailed); return false }
        graph.count(errLargeSent)
        if graph.trace.enabled { graph.traceIfSelected(bi, node: index, a: UInt64(m.pointee.txInterface), b: UInt64(m.pointee.totalLength)) }
        return true
    }

    public override func formatTrace(_ r: TraceRecord) -> String { "af-packet-output: sw_if_index \(r.a), \(r.b) bytes" }
}

#if canImport(Glibc)
import Glibc
#endif
