import CShims
import WeftEngine
import WeftPacket

/// af-packet-input: reads frames from each port's rx ring (TPACKET_V2 slots
/// or TPACKET_V3 blocks) into pool buffers (one copy; the ring is the
/// kernel's memory) and hands them to ethernet-input. Slots and blocks go
/// back to the kernel as soon as they are read.
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
        case kernelRingDrops = "kernel-ring-drops"
        public var help: String {
            switch self {
            case .noBuffers: return "frames dropped: buffer pool empty"
            case .frameTooLong: return "frames longer than a buffer (GSO left on?)"
            case .truncated: return "frames cut short by the ring's snap length"
            case .kernelRingDrops: return "frames the kernel dropped: rx ring full (PACKET_STATISTICS)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "af-packet-input", kind: .input, next: Next.self, errors: Error.self)

    let ports: AfPacketPorts
    var toEthernet = Int32(0)
    var errNoBuffers = UInt32(0), errTooLong = UInt32(0), errTruncated = UInt32(0), errKernelDrops = UInt32(0)

    public init(ports: AfPacketPorts) {
        self.ports = ports
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toEthernet = nextIndex(Next.ethernetInput)
        errNoBuffers = errorIndex(Error.noBuffers)
        errTooLong = errorIndex(Error.frameTooLong)
        errTruncated = errorIndex(Error.truncated)
        errKernelDrops = errorIndex(Error.kernelRingDrops)
    }

    public override var pollDescriptors: [Int32] { ports.descriptors }

    /// Housekeeping (worker thread): moves the kernel's rx-ring drop counts
    /// into `kernel-ring-drops` and the interfaces' drop counters.
    public func collectKernelDrops(_ graph: Graph) {
        let n = ports.collectKernelDrops(into: graph.interfaces)
        if n > 0 { graph.count(errKernelDrops, n) }
    }

    public override func poll(_ graph: Graph) -> Int {
        var total = 0
        for k in 0..<ports.activeCount {
            total &+= receive(graph, ports.ports + Int(ports.activeList[k]), budget: Graph.vectorSize)
        }
        return total
    }

    @inline(__always)
    private func receive(_ graph: Graph, _ port: UnsafeMutablePointer<AfPacketPort>, budget: Int) -> Int {
        var out = NextCursor(to: toEthernet)
        var traceBudget = graph.trace.remaining(index)
        var bytes = 0
        let got = port.pointee.ring.version == 3
            ? receiveBlocks(graph, port, budget, &out, &traceBudget, &bytes)
            : receiveSlots(graph, port, budget, &out, &traceBudget, &bytes)
        graph.close(&out)
        let rx = Int(port.pointee.swIfIndex)
        graph.interfaces.rxPackets[rx] &+= UInt64(got)
        graph.interfaces.rxBytes[rx] &+= UInt64(bytes)
        return got
    }

    /// TPACKET_V2: one status word per fixed slot.
    @inline(__always)
    private func receiveSlots(_ graph: Graph, _ port: UnsafeMutablePointer<AfPacketPort>, _ budget: Int,
                              _ out: inout NextCursor, _ traceBudget: inout Int32, _ bytes: inout Int) -> Int {
        let ring = UnsafeMutableRawPointer(port.pointee.ring.rx_ring!)
        let slotSize = Int(port.pointee.ring.rx_frame_size)
        let slots = port.pointee.ring.rx_frame_count
        var slot = port.pointee.rxBlock
        var got = 0
        while got < budget {
            let h = ring + Int(slot) * slotSize
            let status = weft_v2_status(h)
            if status & UInt32(WEFT_TP_STATUS_USER) == 0 { break }
            deliver(graph, port, src: h + Int(weft_v2_mac(h)), snap: Int(weft_v2_snaplen(h)), wire: Int(weft_v2_len(h)),
                    status: status, tci: weft_v2_vlan_tci(h), tpid: weft_v2_vlan_tpid(h), &out, &traceBudget, &bytes)
            weft_v2_release(h)
            slot = slot &+ 1 == slots ? 0 : slot &+ 1
            got &+= 1
        }
        port.pointee.rxBlock = slot
        return got
    }

    /// TPACKET_V3: blocks of variable-length frames, returned a block at a time.
    @inline(__always)
    private func receiveBlocks(_ graph: Graph, _ port: UnsafeMutablePointer<AfPacketPort>, _ budget: Int,
                               _ out: inout NextCursor, _ traceBudget: inout Int32, _ bytes: inout Int) -> Int {
        let blockSize = Int(port.pointee.ring.rx_block_size)
        let blockCount = port.pointee.ring.rx_block_count
        var got = 0
        while got < budget {
            let block = UnsafeMutableRawPointer(port.pointee.ring.rx_ring!) + Int(port.pointee.rxBlock) * blockSize
            if weft_v3_block_status(block) & UInt32(WEFT_TP_STATUS_USER) == 0 { break }
            let packets = weft_v3_block_packets(block)
            var h = port.pointee.rxPacketHeader ?? block + Int(weft_v3_block_first(block))
            var k = port.pointee.rxPacket
            while k < packets && got < budget {
                deliver(graph, port, src: h + Int(weft_v3_pkt_mac(h)), snap: Int(weft_v3_pkt_snaplen(h)), wire: Int(weft_v3_pkt_len(h)),
                        status: weft_v3_pkt_status(h), tci: weft_v3_pkt_vlan_tci(h), tpid: weft_v3_pkt_vlan_tpid(h),
                        &out, &traceBudget, &bytes)
                let next = weft_v3_pkt_next(h)
                h = next == 0 ? h : h + Int(next)
                k &+= 1
                got &+= 1
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
        return got
    }

    /// Copies one received frame into a pool buffer and hands it on.
    @inline(__always)
    private func deliver(_ graph: Graph, _ port: UnsafeMutablePointer<AfPacketPort>, src: UnsafeMutableRawPointer,
                         snap: Int, wire: Int, status: UInt32, tci: UInt16, tpid: UInt16,
                         _ out: inout NextCursor, _ traceBudget: inout Int32, _ bytes: inout Int) {
        let vlanValid = status & UInt32(WEFT_TP_STATUS_VLAN_VALID) != 0
        let len = snap &+ (vlanValid ? 4 : 0)
        if _slowPath(snap < wire) { graph.count(errTruncated); return }
        if _slowPath(len > BufferPool.maxDataLength) { graph.count(errTooLong); return }
        let bi = graph.buffers.alloc()
        if _slowPath(bi == BufferPool.invalid) { graph.count(errNoBuffers); return }
        let m = graph.metadata + Int(bi)
        let dst = graph.data(bi) + BufferPool.headroom
        if _slowPath(vlanValid) {
            // The kernel moved the 802.1Q tag into the ring header: put it back.
            dst.copyMemory(from: src, byteCount: 12)
            let tpidValid = status & UInt32(WEFT_TP_STATUS_VLAN_TPID_VALID) != 0
            (dst + 12).storeBytes(of: (tpidValid ? tpid : Ethernet.typeVLAN).bigEndian, as: UInt16.self)
            (dst + 14).storeBytes(of: tci.bigEndian, as: UInt16.self)
            (dst + 16).copyMemory(from: src + 12, byteCount: snap &- 12)
        } else {
            dst.copyMemory(from: src, byteCount: snap)
        }
        m.pointee.dataOffset = UInt16(BufferPool.headroom)
        m.pointee.length = UInt16(truncatingIfNeeded: len)
        m.pointee.rxInterface = port.pointee.swIfIndex
        m.pointee.flags = status & UInt32(WEFT_TP_STATUS_CSUM_NOT_READY) != 0 ? .l4ChecksumPending : []
        bytes &+= len
        if _slowPath(traceBudget > 0) {
            let id = graph.trace.select(m, node: index)
            graph.trace.add(TraceRecord(packet: id, node: index, a: UInt64(port.pointee.swIfIndex), b: UInt64(len), c: UInt64(status)))
            traceBudget -= 1
        }
        graph.put(bi, &out)
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let csum = r.c & UInt64(WEFT_TP_STATUS_CSUM_NOT_READY) != 0 ? " csum-partial" : ""
        return "af-packet-input: sw_if_index \(r.a), \(r.b) bytes\(csum)"
    }
}
