import CShims
import WeftEngine
import WeftPacket

/// af-packet-input: reads frames from each port's TPACKET_V3 rx ring into
/// pool buffers (one copy; the ring is the kernel's memory) and hands them to
/// ethernet-input. Blocks are returned to the kernel as soon as they are read.
///
/// Sets: dataOffset, length, rxInterface, flags (.l4ChecksumPending when the
/// kernel says the L4 checksum is partial, as veth senders leave it).
/// A VLAN tag the kernel lifted into the ring header is put back in the frame.
public final class AfPacketInputNode: GraphNode {
    public enum Next: String, NodeNext {
        case ethernetInput = "ethernet-input"
    }

    public enum Error: String, NodeError {
        case noBuffers = "no-buffers"
        case frameTooLong = "frame-too-long"
        case truncated = "truncated"
        public var help: String {
            switch self {
            case .noBuffers: return "frames dropped: buffer pool empty"
            case .frameTooLong: return "frames longer than a buffer (GSO left on?)"
            case .truncated: return "frames cut short by the ring's snap length"
            }
        }
    }

    public static let registration = NodeRegistration(name: "af-packet-input", kind: .input, next: Next.self, errors: Error.self)

    let ports: AfPacketPorts
    var toEthernet = Int32(0)
    var errNoBuffers = UInt32(0), errTooLong = UInt32(0), errTruncated = UInt32(0)

    public init(ports: AfPacketPorts) {
        self.ports = ports
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toEthernet = nextIndex(Next.ethernetInput)
        errNoBuffers = errorIndex(Error.noBuffers)
        errTooLong = errorIndex(Error.frameTooLong)
        errTruncated = errorIndex(Error.truncated)
    }

    public override var pollDescriptors: [Int32] { ports.descriptors }

    public override func poll(_ graph: Graph) -> Int {
        var total = 0
        for k in 0..<ports.activeCount {
            total &+= receive(graph, ports.ports + Int(ports.activeList[k]), budget: Graph.vectorSize)
        }
        return total
    }

    @inline(__always)
    private func receive(_ graph: Graph, _ port: UnsafeMutablePointer<AfPacketPort>, budget: Int) -> Int {
        let md = graph.metadata
        let rx = port.pointee.swIfIndex
        let blockSize = Int(port.pointee.ring.rx_block_size)
        let blockCount = port.pointee.ring.rx_block_count
        var traceBudget = graph.trace.remaining(index)
        var got = 0
        var bytes = 0
        var out = NextCursor(to: toEthernet)
        defer { graph.close(&out) }
        while got < budget {
            let block = UnsafeMutableRawPointer(port.pointee.ring.rx_ring!) + Int(port.pointee.rxBlock) * blockSize
            if weft_v3_block_status(block) & UInt32(WEFT_TP_STATUS_USER) == 0 { break }
            let packets = weft_v3_block_packets(block)
            var h = port.pointee.rxPacketHeader ?? block + Int(weft_v3_block_first(block))
            var k = port.pointee.rxPacket
            while k < packets && got < budget {
                let status = weft_v3_pkt_status(h)
                let snap = Int(weft_v3_pkt_snaplen(h))
                let src = h + Int(weft_v3_pkt_mac(h))
                let vlanValid = status & UInt32(WEFT_TP_STATUS_VLAN_VALID) != 0
                let len = snap + (vlanValid ? 4 : 0)
                let wireLength = Int(weft_v3_pkt_len(h))
                let header = h
                let next = weft_v3_pkt_next(h)
                k &+= 1
                h = next == 0 ? h : h + Int(next)
                got &+= 1
                if _slowPath(snap < wireLength) { graph.count(errTruncated); continue }
                if _slowPath(len > BufferPool.maxDataLength) { graph.count(errTooLong); continue }
                let bi = graph.buffers.alloc()
                if _slowPath(bi == BufferPool.invalid) { graph.count(errNoBuffers); continue }
                let m = md + Int(bi)
                let dst = graph.data(bi) + BufferPool.headroom
                if _slowPath(vlanValid) {
                    // The kernel moved the 802.1Q tag into the ring header: restore it.
                    dst.copyMemory(from: src, byteCount: 12)
                    let tpidValid = status & UInt32(WEFT_TP_STATUS_VLAN_TPID_VALID) != 0
                    let tpid = tpidValid ? weft_v3_pkt_vlan_tpid(header) : Ethernet.typeVLAN
                    (dst + 12).storeBytes(of: tpid.bigEndian, as: UInt16.self)
                    (dst + 14).storeBytes(of: weft_v3_pkt_vlan_tci(header).bigEndian, as: UInt16.self)
                    (dst + 16).copyMemory(from: src + 12, byteCount: snap - 12)
                } else {
                    dst.copyMemory(from: src, byteCount: snap)
                }
                m.pointee.dataOffset = UInt16(BufferPool.headroom)
                m.pointee.length = UInt16(truncatingIfNeeded: len)
                m.pointee.rxInterface = rx
                m.pointee.flags = status & UInt32(WEFT_TP_STATUS_CSUM_NOT_READY) != 0 ? .l4ChecksumPending : []
                bytes &+= len
                if _slowPath(traceBudget > 0) {
                    let id = graph.trace.select(m, node: index)
                    graph.trace.add(TraceRecord(packet: id, node: index, a: UInt64(rx), b: UInt64(len), c: UInt64(status)))
                    traceBudget -= 1
                }
                graph.put(bi, &out)
            }
            if k >= packets {
                weft_v3_block_release(block)
                port.pointee.rxBlock = port.pointee.rxBlock &+ 1 == blockCount ? 0 : port.pointee.rxBlock &+ 1
                port.pointee.rxPacket = 0
                port.pointee.rxPacketHeader = nil
            } else {
                port.pointee.rxPacket = k
                port.pointee.rxPacketHeader = h
            }
        }
        graph.interfaces.rxPackets[Int(rx)] &+= UInt64(got)
        graph.interfaces.rxBytes[Int(rx)] &+= UInt64(bytes)
        return got
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let csum = r.c & UInt64(WEFT_TP_STATUS_CSUM_NOT_READY) != 0 ? " csum-partial" : ""
        return "af-packet-input: sw_if_index \(r.a), \(r.b) bytes\(csum)"
    }
}
