import CShims
import WeftEngine
import WeftPacket

/// The virtio-net header (struct virtio_net_hdr: flags, gso_type, hdr_len,
/// gso_size, csum_start, csum_offset; 10 bytes, native byte order) that TAP
/// queues and PACKET_VNET_HDR sockets put in front of every frame: how the
/// kernel and weftd hand each other GSO super-frames and partial checksums
/// (Linux Documentation/networking/segmentation-offloads.rst, virtio spec
/// 5.1.6). The one reader and writer of it: tap-input/-output and
/// af-packet-input/-output.
///
/// The contract with the rest of the graph (BufferMetadata): a super-frame
/// the graph carries whole is untagged Ethernet, IPv4, TCP, with the TCP
/// checksum partial (`.l4ChecksumPending`), `l4Offset` at the TCP header and
/// every header in the first buffer. Anything else the kernel sends as GSO
/// (UDP, TCP inside VXLAN, VLAN-tagged) an input cuts into segments itself.
public enum VirtioNetHeader {
    public static let length = Int(WEFT_VNET_HDR_LEN)

    /// What a received header makes of its frame.
    public enum Received: Equatable {
        /// No GSO; the L4 checksum is partial when `partial`.
        case plain(partial: Bool)
        /// A TCPv4 super-frame the graph carries whole (`accept` filled the metadata).
        case whole
        /// A super-frame of another kind, for the input to cut into segments.
        case segment(GSOSegmentation.Layout, segmentSize: Int)
        /// A kind Weft does not handle (TCPv6, UFO), or headers it cannot read.
        case unsupported
        /// The header lies: segment size 0, a checksum start that is not the
        /// L4 header or lies past the frame, an unknown GSO type.
        case bad
    }

    /// Reads the header at `header` of a frame of `frameLength` bytes whose
    /// first `headLength` bytes are at `frame` (the first buffer) and, for
    /// `.whole`, writes gsoSize, gsoType, l4Offset and `.l4ChecksumPending`
    /// into `m` (nothing else is touched).
    public static func accept(_ header: UnsafeRawPointer, frame: UnsafeRawPointer, headLength: Int, frameLength: Int,
                              into m: UnsafeMutablePointer<BufferMetadata>) -> Received {
        let partial = header.load(as: UInt8.self) & UInt8(WEFT_VNET_F_NEEDS_CSUM) != 0
        let type = header.load(fromByteOffset: 1, as: UInt8.self) & ~UInt8(WEFT_VNET_GSO_ECN)
        if type == UInt8(WEFT_VNET_GSO_NONE) { return .plain(partial: partial) }
        let segmentSize = Int(header.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        let checksumStart = Int(header.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        let kind: GSOType
        switch Int(type) {
        case WEFT_VNET_GSO_TCPV4: kind = .tcp4
        case WEFT_VNET_GSO_UDP_L4: kind = .udpL4
        case WEFT_VNET_GSO_TCPV6, WEFT_VNET_GSO_UDP: return .unsupported
        default: return .bad
        }
        if segmentSize == 0 || segmentSize >= frameLength || (partial && checksumStart >= frameLength) { return .bad }
        let layout: GSOSegmentation.Layout
        switch GSOSegmentation.parse(frame, length: headLength, kind: kind, checksumStart: partial ? checksumStart : nil) {
        case .success(let l): layout = l
        case .failure(.unsupported): return .unsupported
        case .failure: return .bad
        }
        if kind == .tcp4 && partial && layout.outerL3 < 0 && layout.l3 == Ethernet.headerLength && layout.l4 <= Int(UInt8.max) {
            m.pointee.gsoSize = UInt16(segmentSize)
            m.pointee.gsoType = GSOType.tcp4.rawValue
            m.pointee.l4Offset = UInt8(layout.l4)
            m.pointee.flags.insert(.l4ChecksumPending)
            return .whole
        }
        return .segment(layout, segmentSize: segmentSize)
    }

    /// Writes the header for transmitting the frame `m` heads (its first
    /// buffer's bytes at `frame`) whole: GSO fields and NEEDS_CSUM at the TCP
    /// header for a super-frame (the kernel cuts it if the device must), at
    /// the UDP header for a UDP GSO frame (vxlan4-encap's), NEEDS_CSUM
    /// for a partial checksum, all zero otherwise. False when the metadata
    /// contradicts the frame (it is then not sent).
    public static func write(_ header: UnsafeMutableRawPointer, for m: UnsafePointer<BufferMetadata>,
                             frame: UnsafeRawPointer) -> Bool {
        header.storeBytes(of: UInt64(0), as: UInt64.self)
        (header + 8).storeBytes(of: UInt16(0), as: UInt16.self)
        let first = Int(m.pointee.length)
        if m.pointee.gsoSize != 0 && m.pointee.gsoType == GSOType.udpL4.rawValue {
            // UDP GSO (vxlan4-encap's datagrams): the kernel cuts at every gsoSize
            // bytes of UDP payload and fills in each datagram's checksum.
            let l4 = Int(m.pointee.l4Offset)
            guard m.pointee.flags.contains(.l4ChecksumPending), l4 >= Ethernet.headerLength &+ 20,
                  l4 &+ UDP.headerLength <= first else { return false }
            header.storeBytes(of: UInt8(WEFT_VNET_F_NEEDS_CSUM), as: UInt8.self)
            (header + 1).storeBytes(of: UInt8(WEFT_VNET_GSO_UDP_L4), as: UInt8.self)
            (header + 2).storeBytes(of: UInt16(l4 &+ UDP.headerLength), as: UInt16.self)   // hdr_len
            (header + 4).storeBytes(of: m.pointee.gsoSize, as: UInt16.self)                 // gso_size
            (header + 6).storeBytes(of: UInt16(l4), as: UInt16.self)                        // csum_start
            (header + 8).storeBytes(of: UInt16(UDP.offsetChecksum), as: UInt16.self)        // csum_offset
        } else if m.pointee.gsoSize != 0 {
            let l4 = Int(m.pointee.l4Offset)
            guard m.pointee.gsoType == GSOType.tcp4.rawValue, m.pointee.flags.contains(.l4ChecksumPending),
                  l4 >= Ethernet.headerLength &+ 20, l4 &+ 20 <= first else { return false }
            let tcpHeader = Int(frame.load(fromByteOffset: l4 &+ 12, as: UInt8.self) >> 4) &* 4
            guard tcpHeader >= 20, l4 &+ tcpHeader <= first else { return false }
            header.storeBytes(of: UInt8(WEFT_VNET_F_NEEDS_CSUM), as: UInt8.self)
            (header + 1).storeBytes(of: UInt8(WEFT_VNET_GSO_TCPV4), as: UInt8.self)
            (header + 2).storeBytes(of: UInt16(l4 &+ tcpHeader), as: UInt16.self)   // hdr_len
            (header + 4).storeBytes(of: m.pointee.gsoSize, as: UInt16.self)          // gso_size
            (header + 6).storeBytes(of: UInt16(l4), as: UInt16.self)                 // csum_start
            (header + 8).storeBytes(of: UInt16(16), as: UInt16.self)                 // csum_offset: TCP
        } else if m.pointee.flags.contains(.l4ChecksumPending) {
            // A partial checksum on a frame not completed here (a chain): the kernel finishes it.
            guard let l3 = Ethernet.ipv4Offset(frame, length: first) else { return false }
            let proto = frame.load(fromByteOffset: l3 &+ IPv4.offsetProtocol, as: UInt8.self)
            guard proto == IPv4.protocolTCP || proto == IPv4.protocolUDP else { return false }
            let l4 = l3 &+ IPv4.headerLength(frame + l3)
            header.storeBytes(of: UInt8(WEFT_VNET_F_NEEDS_CSUM), as: UInt8.self)
            (header + 6).storeBytes(of: UInt16(l4), as: UInt16.self)
            (header + 8).storeBytes(of: UInt16(proto == IPv4.protocolTCP ? 16 : 6), as: UInt16.self)
        }
        return true
    }
}
