import CShims
import WeftEngine
import WeftPacket

/// af-packet-input: reads frames from each port's rx ring (TPACKET_V2 slots
/// or TPACKET_V3 blocks) into pool buffers (one copy; the ring is the
/// kernel's memory) and hands them to ethernet-input. Slots and blocks go
/// back to the kernel as soon as they are read.
///
/// GSO super-frames (V2 rings, which have PACKET_VNET_HDR and
/// PACKET_COPY_THRESH): a pod whose veth keeps TSO on (the default since
/// issue 19), or any kernel with offloads on, hands the veth frames of up to
/// 64 KB. Such a frame does not fit a ring slot; the kernel marks the slot
/// TP_STATUS_COPY and queues the whole frame on the socket, where this node
/// reads it with one readv straight into a buffer chain (ChainIO.read). A
/// TCPv4 super-frame goes on whole, its GSO fields in the metadata
/// (VirtioNetHeader.accept: gsoSize, gsoType, l4Offset, partial checksum),
/// for the output to hand to the kernel whole or for gso-segment to cut.
/// Other GSO frames (UDP, TCP inside VXLAN from a kernel vxlan device) are
/// cut here into frames of the sender's segment size (`GSOSegmentation`),
/// each in its own pool buffer with complete checksums. A header that lies
/// is `gso-bad-header`; TCPv6/UFO or a VLAN tag the kernel lifted out of a
/// large frame is `gso-unsupported`; a pool running dry drops the whole
/// frame (`no-buffers`), never half of it.
///
/// Sets: dataOffset, length, rxInterface, flags (.l4ChecksumPending when the
/// kernel says the L4 checksum is partial, as veth senders leave it); for
/// chains and GSO frames nextBuffer, chainLength, gsoSize, gsoType, l4Offset.
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
        case gsoFrames = "gso-frames"
        case gsoSegmented = "gso-segmented"
        case gsoBadHeader = "gso-bad-header"
        case gsoUnsupported = "gso-unsupported"
        case gsoSegmentTooLarge = "gso-segment-too-large"
        case copyMissing = "copy-missing"
        public var help: String {
            switch self {
            case .noBuffers: return "frames dropped: buffer pool empty"
            case .frameTooLong: return "non-GSO frames in a ring slot longer than a buffer (an MTU above 1920 bytes)"
            case .truncated: return "frames cut short by the ring's snap length"
            case .kernelRingDrops: return "frames the kernel dropped: rx ring full (PACKET_STATISTICS)"
            case .gsoFrames: return "TCPv4 GSO super-frames received and handed on whole (counted, not dropped)"
            case .gsoSegmented: return "other GSO super-frames (UDP, TCP in VXLAN) received and cut into MTU-sized frames here (not a drop)"
            case .gsoBadHeader: return "GSO frames dropped: the virtio-net header lies (segment size 0 or past the frame, checksum start past it, unknown type)"
            case .gsoUnsupported: return "GSO frames dropped: not IPv4 TCP/UDP (or VXLAN around it), or VLAN-tagged"
            case .gsoSegmentTooLarge: return "GSO frames dropped: one segment would not fit a buffer (segment size above the MTU Weft supports)"
            case .copyMissing: return "frames the kernel marked as queued whole (TP_STATUS_COPY) that the socket did not have"
            }
        }
    }

    public static let registration = NodeRegistration(name: "af-packet-input", kind: .input, next: Next.self, errors: Error.self)

    let ports: AfPacketPorts
    var toEthernet = Int32(0)
    var errNoBuffers = UInt32(0), errTooLong = UInt32(0), errTruncated = UInt32(0), errKernelDrops = UInt32(0)
    var errSegmented = UInt32(0), errBadHeader = UInt32(0), errUnsupported = UInt32(0), errSegmentTooLarge = UInt32(0)
    var errCopyMissing = UInt32(0), errGSOFrames = UInt32(0)
    /// A whole frame read from the socket (virtio-net header + up to 64 KB).
    static let scratchSize = 65_536 + 256
    let scratch: UnsafeMutableRawPointer
    /// Buffers taken for one super-frame's segments.
    let segmentBuffers: UnsafeMutablePointer<UInt32>

    public init(ports: AfPacketPorts) {
        self.ports = ports
        scratch = .allocate(byteCount: Self.scratchSize, alignment: 64)
        segmentBuffers = .allocate(capacity: GSOSegmentation.maxSegments)
        super.init(registration: Self.registration)
    }

    deinit { scratch.deallocate(); segmentBuffers.deallocate() }

    public override func didResolve(_ graph: Graph) {
        toEthernet = nextIndex(Next.ethernetInput)
        errNoBuffers = errorIndex(Error.noBuffers)
        errTooLong = errorIndex(Error.frameTooLong)
        errTruncated = errorIndex(Error.truncated)
        errKernelDrops = errorIndex(Error.kernelRingDrops)
        errSegmented = errorIndex(Error.gsoSegmented)
        errGSOFrames = errorIndex(Error.gsoFrames)
        errBadHeader = errorIndex(Error.gsoBadHeader)
        errUnsupported = errorIndex(Error.gsoUnsupported)
        errSegmentTooLarge = errorIndex(Error.gsoSegmentTooLarge)
        errCopyMissing = errorIndex(Error.copyMissing)
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
        graph.countBytes(index, Int(bytes))
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
        let vnet = port.pointee.ring.vnet_hdr_len != 0
        var got = 0
        while got < budget {
            let h = ring + Int(slot) * slotSize
            let status = weft_v2_status(h)
            if status & UInt32(WEFT_TP_STATUS_USER) == 0 { break }
            let src = h + Int(weft_v2_mac(h))
            if _slowPath(vnet && (status & UInt32(WEFT_TP_STATUS_COPY) != 0
                                  || weft_v2_vnet(h).load(fromByteOffset: 1, as: UInt8.self) != UInt8(WEFT_VNET_GSO_NONE))) {
                deliverLarge(graph, port, slotFrame: src, snap: Int(weft_v2_snaplen(h)), vnet: weft_v2_vnet(h), status: status,
                             &out, &traceBudget, &bytes)
            } else {
                deliver(graph, port, src: src, snap: Int(weft_v2_snaplen(h)), wire: Int(weft_v2_len(h)),
                        status: status, tci: weft_v2_vlan_tci(h), tpid: weft_v2_vlan_tpid(h), &out, &traceBudget, &bytes)
            }
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

    /// A GSO frame, or a frame queued whole on the socket because it did not
    /// fit its slot (TP_STATUS_COPY, read straight into a buffer chain): a
    /// TCPv4 super-frame is handed on whole, any other GSO frame is cut into
    /// segments here (VirtioNetHeader says which).
    @inline(never)
    private func deliverLarge(_ graph: Graph, _ port: UnsafeMutablePointer<AfPacketPort>, slotFrame: UnsafeMutableRawPointer,
                              snap: Int, vnet slotVnet: UnsafeRawPointer, status: UInt32,
                              _ out: inout NextCursor, _ traceBudget: inout Int32, _ bytes: inout Int) {
        let bi: UInt32, length: Int, vnet: UnsafeRawPointer
        if status & UInt32(WEFT_TP_STATUS_COPY) != 0 {
            switch ChainIO.read(port.pointee.ring.fd, graph: graph, taken: segmentBuffers) {
            case .frame(let head, let n): bi = head; length = n
            case .noBuffers:
                // The frame must still leave the socket, or the next COPY slot would read it.
                _ = weft_afp_recv_copy(port.pointee.ring.fd, scratch, Self.scratchSize)
                graph.count(errNoBuffers); return
            case .tooLong: graph.count(errTruncated); return
            case .runt, .failed: graph.count(errCopyMissing); return
            }
            vnet = UnsafeRawPointer(graph.data(bi) + BufferPool.headroom - VirtioNetHeader.length)
        } else {
            if snap > BufferPool.maxDataLength { graph.count(errTooLong); return }
            bi = graph.buffers.alloc()
            if _slowPath(bi == BufferPool.invalid) { graph.count(errNoBuffers); return }
            let m = graph.metadata + Int(bi)
            (graph.data(bi) + BufferPool.headroom).copyMemory(from: slotFrame, byteCount: snap)
            m.pointee.dataOffset = UInt16(BufferPool.headroom)
            m.pointee.length = UInt16(snap)
            length = snap
            vnet = slotVnet
        }
        let m = graph.metadata + Int(bi)
        m.pointee.rxInterface = port.pointee.swIfIndex
        m.pointee.flags = []
        if _slowPath(status & UInt32(WEFT_TP_STATUS_VLAN_VALID) != 0) {
            // The kernel lifted a tag out of a frame too large to put it back into here.
            graph.buffers.free(bi); graph.count(errUnsupported); return
        }
        let frame = UnsafeRawPointer(graph.data(bi) + BufferPool.headroom)
        switch VirtioNetHeader.accept(vnet, frame: frame, headLength: Int(m.pointee.length), frameLength: length, into: m) {
        case .plain(let partial):
            if partial { m.pointee.flags = .l4ChecksumPending }
        case .whole:
            graph.count(errGSOFrames)
        case .segment(let layout, let segmentSize):
            segment(graph, port, bi, length: length, layout: layout, segmentSize: segmentSize, status: status, &out, &traceBudget, &bytes)
            return
        case .unsupported: graph.buffers.free(bi); graph.count(errUnsupported); return
        case .bad: graph.buffers.free(bi); graph.count(errBadHeader); return
        }
        bytes &+= length
        if _slowPath(traceBudget > 0) {
            let id = graph.trace.select(m, node: index)
            graph.trace.add(TraceRecord(packet: id, node: index, a: UInt64(port.pointee.swIfIndex), b: UInt64(length),
                                        c: UInt64(status), d: UInt64(m.pointee.gsoSize) << 32 | UInt64(m.pointee.gsoType) << 48))
            traceBudget -= 1
        }
        graph.put(bi, &out)
    }

    /// Cuts the super-frame in `bi` (a chain is gathered into the scratch
    /// first) into single-buffer segments and frees it.
    private func segment(_ graph: Graph, _ port: UnsafeMutablePointer<AfPacketPort>, _ bi: UInt32, length: Int,
                         layout: GSOSegmentation.Layout, segmentSize: Int, status: UInt32,
                         _ out: inout NextCursor, _ traceBudget: inout Int32, _ bytes: inout Int) {
        defer { graph.buffers.free(bi) }
        let frame: UnsafeRawPointer
        if graph.metadata[Int(bi)].isChained {
            _ = BufferChain.gather(bi, to: scratch, pool: graph.pool)
            frame = UnsafeRawPointer(scratch)
        } else {
            frame = UnsafeRawPointer(graph.data(bi) + BufferPool.headroom)
        }
        if layout.headerLength &+ segmentSize > BufferPool.maxDataLength { graph.count(errSegmentTooLarge); return }
        let n = GSOSegmentation.segmentCount(layout: layout, length: length, segmentSize: segmentSize)
        if n > GSOSegmentation.maxSegments { graph.count(errBadHeader); return }
        guard BufferChain.take(n, into: segmentBuffers, buffers: graph.buffers) else { graph.count(errNoBuffers); return }
        for k in 0..<n {
            let s = segmentBuffers[k]
            let m = graph.metadata + Int(s)
            let len = GSOSegmentation.writeSegment(k, of: frame, length: length, layout: layout, segmentSize: segmentSize,
                                                   to: graph.data(s) + BufferPool.headroom)
            m.pointee.dataOffset = UInt16(BufferPool.headroom)
            m.pointee.length = UInt16(truncatingIfNeeded: len)
            m.pointee.rxInterface = port.pointee.swIfIndex
            m.pointee.flags = []
            bytes &+= len
            if _slowPath(traceBudget > 0) {
                let id = graph.trace.select(m, node: index)
                graph.trace.add(TraceRecord(packet: id, node: index, a: UInt64(port.pointee.swIfIndex), b: UInt64(len),
                                            c: UInt64(status), d: UInt64(segmentSize) << 32 | UInt64(length)))
                traceBudget -= 1
            }
            graph.put(s, &out)
        }
        graph.count(errSegmented)
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let csum = r.c & UInt64(WEFT_TP_STATUS_CSUM_NOT_READY) != 0 ? " csum-partial" : ""
        let gso: String
        if r.d >> 48 != 0 {
            gso = " gso \(GSOType(rawValue: UInt8(truncatingIfNeeded: r.d >> 48)) ?? .none) segment \((r.d >> 32) & 0xFFFF), whole"
        } else {
            gso = r.d == 0 ? "" : ", segment of a \(r.d & 0xFFFF_FFFF)-byte GSO frame (segment size \(r.d >> 32))"
        }
        return "af-packet-input: sw_if_index \(r.a), \(r.b) bytes\(csum)\(gso)"
    }
}
