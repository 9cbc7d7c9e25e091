import WeftEngine

/// Software segmentation of a GSO super-frame (what a NIC's TSO/USO engine
/// does, and Linux's `skb_segment`): one Ethernet frame carrying up to 64 KB
/// of TCP or UDP payload behind one set of headers is cut into frames of at
/// most `segmentSize` payload bytes each, every one with its own headers and
/// complete checksums. Handles plain IPv4 (optionally one 802.1Q/ad tag) and
/// IPv4 inside VXLAN (outer Ethernet/IPv4/UDP + 8-byte VXLAN header), the
/// UDP-tunnel GSO frame a kernel `vxlan` device hands a veth.
///
/// Per segment, as the kernel does (RFC 793/768/791, and Linux's
/// `tcp_gso_segment` / `__udp_gso_segment` / `skb_udp_tunnel_segment`):
/// - IPv4 total length and header checksum rewritten; the identification
///   is the super-frame's plus the segment number (inner and outer header);
/// - TCP: sequence number advanced by the bytes before the segment; FIN and
///   PSH only on the last segment, CWR only on the first; checksum computed;
/// - UDP GSO: each segment a datagram with its own length and checksum;
/// - outer UDP (VXLAN): length rewritten; its checksum stays 0 if it was 0
///   (the VXLAN default), otherwise is computed for the segment.
///
/// Pure functions over bytes: no buffers, no allocation; the caller owns the
/// memory (af-packet-input writes each segment straight into a pool buffer).
public enum GSOSegmentation {
    /// The engine's GSO type (BufferMetadata.gsoType); tcp4 and udpL4 are cut here.
    public typealias Kind = GSOType

    /// Where the headers of a super-frame are, found by `parse`.
    public struct Layout: Equatable, Sendable {
        public var kind: Kind
        /// Offset of the outer IPv4 header of a VXLAN frame, or -1.
        public var outerL3: Int
        /// Offset of the IPv4 header of the packet being segmented.
        public var l3: Int
        /// Offset of its TCP/UDP header.
        public var l4: Int
        /// Bytes of headers copied into every segment (through the TCP/UDP header).
        public var headerLength: Int
    }

    /// Why a super-frame cannot be segmented (each becomes a drop counter).
    public enum Refusal: Error, Equatable, Sendable {
        /// Not IPv4 TCP/UDP (or VXLAN around it), or a header cut short.
        case unsupported
        /// The GSO metadata contradicts the frame: segment size 0, a checksum
        /// start that is not the L4 header, or a TCP GSO of a UDP packet.
        case inconsistent
        /// More segments than `maxSegments`.
        case tooManySegments
    }

    /// The most segments one super-frame may produce (64 KB at a 256-byte segment size).
    public static let maxSegments = 256

    /// Finds the headers of the `length`-byte frame at `frame`. `checksumStart`
    /// is the virtio-net header's csum_start (the L4 header the sender's
    /// checksum starts at), or nil when unknown; when given it must match.
    public static func parse(_ frame: UnsafeRawPointer, length: Int, kind: Kind, checksumStart: Int?) -> Result<Layout, Refusal> {
        guard kind == .tcp4 || kind == .udpL4 else { return .failure(.unsupported) }
        guard var l3 = Ethernet.ipv4Offset(frame, length: length, from: 0) else { return .failure(.unsupported) }
        var outer = -1
        var proto = frame.load(fromByteOffset: l3 + IPv4.offsetProtocol, as: UInt8.self)
        var l4 = l3 + IPv4.headerLength(frame + l3)
        let wanted = kind == .tcp4 ? IPv4.protocolTCP : IPv4.protocolUDP
        // A VXLAN frame: the checksum start (or the protocol) says the L4 header is further in.
        if proto == IPv4.protocolUDP && (checksumStart.map { $0 > l4 } ?? (kind == .tcp4)) {
            let inner = l4 + UDP.headerLength + VXLAN.headerLength
            guard let innerL3 = Ethernet.ipv4Offset(frame, length: length, from: inner) else { return .failure(.unsupported) }
            outer = l3
            l3 = innerL3
            proto = frame.load(fromByteOffset: l3 + IPv4.offsetProtocol, as: UInt8.self)
            l4 = l3 + IPv4.headerLength(frame + l3)
        }
        guard proto == IPv4.protocolTCP || proto == IPv4.protocolUDP else { return .failure(.unsupported) }
        guard proto == wanted else { return .failure(.inconsistent) }
        if let start = checksumStart, start != l4 { return .failure(.inconsistent) }
        let l4Header: Int
        if proto == IPv4.protocolTCP {
            guard l4 + 20 <= length else { return .failure(.unsupported) }
            l4Header = Int(frame.load(fromByteOffset: l4 + 12, as: UInt8.self) >> 4) &* 4
            guard l4Header >= 20 else { return .failure(.unsupported) }
        } else {
            l4Header = UDP.headerLength
        }
        guard l4 + l4Header <= length else { return .failure(.unsupported) }
        return .success(Layout(kind: kind, outerL3: outer, l3: l3, l4: l4, headerLength: l4 + l4Header))
    }

    /// Segments a frame of `length` bytes with `segmentSize` payload bytes each makes.
    @inlinable
    public static func segmentCount(layout: Layout, length: Int, segmentSize: Int) -> Int {
        let payload = length - layout.headerLength
        return payload <= 0 ? 1 : (payload + segmentSize - 1) / segmentSize
    }

    /// Writes segment `index` of the super-frame at `frame` to `out` (room
    /// for `layout.headerLength + segmentSize` bytes) and returns its length.
    public static func writeSegment(_ index: Int, of frame: UnsafeRawPointer, length: Int, layout: Layout,
                                    segmentSize: Int, to out: UnsafeMutableRawPointer) -> Int {
        let h = layout.headerLength
        let payload = length - h
        let start = index * segmentSize
        let chunk = max(0, min(segmentSize, payload - start))
        let last = start + chunk >= payload
        out.copyMemory(from: frame, byteCount: h)
        if chunk > 0 { (out + h).copyMemory(from: frame + h + start, byteCount: chunk) }
        let total = h + chunk

        let ip = out + layout.l3
        rewriteIPv4(ip, totalLength: total - layout.l3, index: index)
        let l4 = out + layout.l4
        let l4Length = total - layout.l4
        if layout.kind == .tcp4 {
            let seq = IPv4.u32(l4, 4) &+ UInt32(truncatingIfNeeded: start)
            IPv4.store32(seq, l4, 4)
            var flags = l4.load(fromByteOffset: 13, as: UInt8.self)
            if !last { flags &= ~(tcpFIN | tcpPSH) }
            if index > 0 { flags &= ~tcpCWR }
            l4.storeBytes(of: flags, toByteOffset: 13, as: UInt8.self)
        } else {
            IPv4.store16(UInt16(truncatingIfNeeded: l4Length), l4, UDP.offsetLength)
        }
        Checksum.completeIPv4L4(ip: ip, length: total - layout.l3)
        if layout.outerL3 >= 0 {
            let oip = out + layout.outerL3
            rewriteIPv4(oip, totalLength: total - layout.outerL3, index: index)
            let udp = oip + IPv4.headerLength(oip)
            let udpLength = total - (layout.outerL3 + IPv4.headerLength(oip))
            IPv4.store16(UInt16(truncatingIfNeeded: udpLength), udp, UDP.offsetLength)
            if UDP.checksum(udp) != 0 { Checksum.completeIPv4L4(ip: oip, length: total - layout.outerL3) }
        }
        return total
    }

    @usableFromInline static let tcpFIN: UInt8 = 0x01
    @usableFromInline static let tcpPSH: UInt8 = 0x08
    @usableFromInline static let tcpCWR: UInt8 = 0x80

    static func rewriteIPv4(_ ip: UnsafeMutableRawPointer, totalLength: Int, index: Int) {
        IPv4.store16(UInt16(truncatingIfNeeded: totalLength), ip, IPv4.offsetTotalLength)
        IPv4.store16(IPv4.u16(ip, 4) &+ UInt16(truncatingIfNeeded: index), ip, 4)
        IPv4.setHeaderChecksum(ip, headerLength: IPv4.headerLength(ip))
    }

}
