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
/// Uses: txInterface, dataOffset, length, flags(.l4ChecksumPending).
public final class AfPacketOutputNode: GraphNode {
    public enum Error: String, NodeError {
        case txRingFull = "tx-ring-full"
        case notAfPacket = "not-af-packet"
        case kickFailed = "tx-kick-failed"
        public var help: String {
            switch self {
            case .txRingFull: return "frames dropped: transmit ring full"
            case .notAfPacket: return "transmit interface has no af-packet port"
            case .kickFailed: return "sendto on the tx ring failed (frames stay queued)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "af-packet-output", next: NoNext.self, errors: Error.self)

    let ports: AfPacketPorts
    var errFull = UInt32(0), errNotAfPacket = UInt32(0), errKick = UInt32(0)
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
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let instance = graph.interfaces.driverInstance
        let txPackets = graph.interfaces.txPackets
        let txBytes = graph.interfaces.txBytes
        let drops = graph.interfaces.drops
        let portTable = ports.ports
        let tracing = graph.trace.enabled
        var touchedCount = 0
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let tx = Int(m.pointee.txInterface)
            let slot = instance[tx]
            if _slowPath(slot < 0) { graph.count(errNotAfPacket); drops[tx] &+= 1; continue }
            let port = portTable + Int(slot)
            if _slowPath(!port.pointee.active) { graph.count(errNotAfPacket); drops[tx] &+= 1; continue }
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
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(tx), b: UInt64(len)) }
        }
        for k in 0..<touchedCount {
            let port = portTable + Int(touched[k])
            port.pointee.txPending = false
            let rc = weft_afp_kick_tx(port.pointee.ring.fd)
            if rc != 0 && rc != -EAGAIN { graph.count(errKick) }
        }
        graph.buffers.free(vector, count: count)
    }

    public override func formatTrace(_ r: TraceRecord) -> String { "af-packet-output: sw_if_index \(r.a), \(r.b) bytes" }
}

#if canImport(Glibc)
import Glibc
#endif
