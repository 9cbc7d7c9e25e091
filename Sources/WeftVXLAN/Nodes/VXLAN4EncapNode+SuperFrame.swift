import WeftEngine
import WeftIP4
import WeftPacket

/// vxlan4-encap for a TCP super-frame (issue 19). Cutting it in gso-segment
/// first would send every segment through ip4-lookup, ip4-rewrite and the
/// underlay socket alone (one kernel crossing per 1.4 KB, on both nodes).
/// Instead its segments become the datagrams of UDP GSO frames
/// (VIRTIO_NET_HDR_GSO_UDP_L4, Linux's UDP segmentation offload): one outer
/// IPv4 + UDP header, then datagrams of exactly `gsoSize` bytes (the last may
/// be shorter), each a VXLAN header and one complete inner segment
/// (GSOSegmentation.writeSegment: its own headers, sequence number, IP id and
/// TCP checksum), one per buffer, chained. The kernel cuts such a frame at the
/// datagram boundaries only where a device needs it, and fills in every outer
/// UDP checksum: the field holds the partial (pseudo-header) sum over the
/// whole length, as `__udp_gso_segment` expects, and the frame is marked
/// `.l4ChecksumPending` with `l4Offset` at the outer UDP header. A chain
/// has at most 33 buffers (and an IPv4 datagram 65535 bytes), so a 64 KB
/// super-frame makes two.
///
/// Why not one UDP-tunnel GSO frame (the inner TCP left whole, what a kernel
/// `vxlan` device hands a veth): AF_PACKET's virtio-net header has no tunnel
/// GSO type in Linux 6.18 (`virtio_net_hdr_to_skb`; the tunnel variant is
/// only for tun and virtio_net), so weftd computes the inner checksums itself.
///
/// Refusals: not a TCPv4 super-frame or headers that contradict its metadata
/// (`bad-super-frame`), a multi-buffer frame without GSO (`chain-not-gso`: a
/// jumbo frame, as gso-segment refuses it), segments larger than the tunnel's
/// MTU (`mtu-exceeded`, as for single frames), a dry pool (`no-buffers`,
/// nothing taken). A port that cannot take the result (AF_XDP) gets it cut by
/// gso-segment after ip4-rewrite, as plain UDP GSO.
extension VXLAN4EncapNode {
    /// Datagrams of `datagram` bytes one UDP GSO frame holds: one per buffer,
    /// so at most a chain's `BufferChain.maxBuffers`, and an IPv4 total length <= 65535.
    static func datagramsPerFrame(datagram: Int) -> Int {
        max(1, min(BufferChain.maxBuffers, (Int(UInt16.max) &- IPv4.minHeaderLength &- UDP.headerLength) / datagram))
    }

    @inline(never)
    func encapsulateSuperFrame(_ graph: Graph, _ bi: UInt32, tx: Int, _ out: inout NextCursor) {
        let m = graph.metadata + Int(bi)
        let segmentSize = Int(m.pointee.gsoSize)
        if segmentSize == 0 { graph.drop(bi, error: errChainNotGSO); return }
        let length = m.pointee.totalLength
        guard m.pointee.gsoType == GSOType.tcp4.rawValue, length <= BufferChain.maxFrameLength else {
            graph.drop(bi, error: errBadSuperFrame); return
        }
        let frame: UnsafeRawPointer
        if m.pointee.isChained {
            _ = BufferChain.gather(bi, to: scratch, pool: graph.pool)
            frame = UnsafeRawPointer(scratch)
        } else {
            frame = UnsafeRawPointer(graph.current(bi))
        }
        let start = m.pointee.l4Offset == 0 ? nil : Int(m.pointee.l4Offset)
        guard case .success(let layout) = GSOSegmentation.parse(frame, length: length, kind: .tcp4, checksumStart: start),
              layout.outerL3 < 0 else { graph.drop(bi, error: errBadSuperFrame); return }
        // Each inner segment (from its IPv4 header) must fit the tunnel, and one buffer.
        let innerHeaders = layout.headerLength
        if innerHeaders &- layout.l3 &+ segmentSize > Int(graph.interfaces.mtu[tx]) { graph.drop(bi, error: errMTU); return }
        if innerHeaders &+ segmentSize > BufferPool.maxDataLength { graph.drop(bi, error: errBadSuperFrame); return }
        let n = GSOSegmentation.segmentCount(layout: layout, length: length, segmentSize: segmentSize)
        if n > GSOSegmentation.maxSegments { graph.drop(bi, error: errBadSuperFrame); return }
        guard BufferChain.take(n, into: segments, buffers: graph.buffers) else { graph.drop(bi, error: errNoBuffers); return }

        let md = graph.metadata
        let t = tunnels.template + tx &* VXLANTunnelTable.templateStride
        let vxlanHeader = (t + IPv4.minHeaderLength + UDP.headerLength).load(as: UInt64.self)
        let hash = Self.flowHash(frame, Int(m.pointee.length))
        let sport = 0xC000 | UInt16(truncatingIfNeeded: hash) & 0x3FFF
        let datagram = VXLAN.headerLength &+ innerHeaders &+ segmentSize
        let perFrame = Self.datagramsPerFrame(datagram: datagram)
        let traced = m.pointee.flags.contains(.traced)
        let flags = BufferFlags.ip4LocallyOriginated.rawValue | BufferFlags.l4ChecksumPending.rawValue
        let at = BufferPool.headroom &- VXLAN.headerLength   // each datagram's start in its buffer
        var innerBytes = 0, frames = 0
        var first = 0
        while first < n {
            let end = min(n, first &+ perFrame)
            let head = segments[first]
            let hm = md + Int(head)
            hm.pointee = m.pointee
            hm.pointee.clearLargeFrameFields()
            var payload = 0, previous = BufferPool.invalid
            for k in first..<end {
                let s = segments[k]
                let d = graph.data(s)
                let inner = GSOSegmentation.writeSegment(k, of: frame, length: length, layout: layout,
                                                         segmentSize: segmentSize, to: d + BufferPool.headroom)
                (d + at).storeBytes(of: vxlanHeader, as: UInt64.self)
                md[Int(s)].dataOffset = UInt16(at)
                md[Int(s)].length = UInt16(truncatingIfNeeded: VXLAN.headerLength &+ inner)
                if previous != BufferPool.invalid { md[Int(previous)].nextBuffer = s }
                previous = s
                payload &+= VXLAN.headerLength &+ inner
                innerBytes &+= inner
            }
            // The outer IPv4 + UDP header in front of the first datagram.
            let ipStart = at &- IPv4.minHeaderLength &- UDP.headerLength
            let ip = graph.data(head) + ipStart
            let udpLength = UDP.headerLength &+ payload
            let total = IPv4.minHeaderLength &+ udpLength
            Self.writeOuterIPv4UDP(ip, template: t, udpLength: udpLength, sourcePort: sport)
            let udp = ip + IPv4.minHeaderLength
            IPv4.store16(Checksum.fold(Checksum.pseudoHeaderSum(ip: ip, protocol: IPv4.protocolUDP, l4Length: udpLength)),
                         udp, UDP.offsetChecksum)

            let firstLength = Int(hm.pointee.length) &+ IPv4.minHeaderLength &+ UDP.headerLength
            hm.pointee.dataOffset = UInt16(ipStart)
            hm.pointee.l3Offset = UInt16(ipStart)
            hm.pointee.length = UInt16(truncatingIfNeeded: firstLength)
            hm.pointee.chainLength = UInt32(truncatingIfNeeded: total &- firstLength)
            hm.pointee.l4Offset = UInt8(IPv4.minHeaderLength)
            if end &- first > 1 {
                hm.pointee.gsoSize = UInt16(truncatingIfNeeded: datagram)
                hm.pointee.gsoType = GSOType.udpL4.rawValue
            }
            hm.pointee.fibIndex = tunnels.fibIndex[tx]
            hm.pointee.flowHash = hash
            hm.pointee.flags = BufferFlags(rawValue: flags | (traced && first == 0 ? BufferFlags.traced.rawValue : 0))
            if traced && first == 0 {
                graph.traceIfSelected(head, node: index, a: UInt64(tx), b: UInt64(tunnels.vni[tx]),
                                      c: UInt64(tunnels.remote[tx]), d: UInt64(sport))
            }
            graph.put(head, &out)
            frames &+= 1
            first = end
        }
        graph.interfaces.txPackets[tx] &+= UInt64(n)
        graph.interfaces.txBytes[tx] &+= UInt64(innerBytes)
        graph.count(errUDPGSO, UInt64(frames))
        m.pointee.flags.remove(.traced)
        graph.buffers.free(bi)
    }
}
