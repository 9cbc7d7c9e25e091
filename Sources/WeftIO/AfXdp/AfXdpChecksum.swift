import WeftEngine
import WeftPacket

/// Partial L4 checksums on AF_XDP receive.
///
/// A veth sender with checksum offload hands the peer a CHECKSUM_PARTIAL skb:
/// the TCP/UDP checksum field holds only the pseudo-header sum. AF_PACKET
/// tells us (TP_STATUS_CSUMNOTREADY); an AF_XDP descriptor carries no such
/// state, and XDP on veth (native or generic) passes the bytes on as they
/// are (measured on 6.18: ping works, TCP connections never open).
///
/// So af-xdp-input recognises such frames itself: IPv4 TCP/UDP (not a
/// fragment) whose checksum field equals the folded pseudo-header sum. One
/// pass over the segment then tells the rare complete checksum that happens to
/// have that value (the full sum verifies) from a partial one, and gives the
/// complete checksum in the same pass, stored at once. Frames that are not
/// candidates cost a header parse and an 8-byte sum.
public enum AfXdpChecksum {
    /// Completes the L4 checksum of the Ethernet frame at `frame` when it is
    /// partial. Returns true when it changed the frame.
    @inlinable @inline(__always)
    public static func completeIfPartial(frame: UnsafeMutableRawPointer, length: Int) -> Bool {
        guard let l3 = Ethernet.ipv4Offset(frame, length: length) else { return false }
        let ip = frame + l3
        let ihl = Int(ip.load(as: UInt8.self) & 0x0F) &* 4
        let total = Int(Ethernet.u16(ip, 2))
        let proto = ip.load(fromByteOffset: 9, as: UInt8.self)
        guard proto == 6 || proto == 17, total >= ihl, l3 &+ total <= length else { return false }
        guard Ethernet.u16(ip, 6) & 0x3FFF == 0 else { return false }  // a fragment: no L4 header to trust
        let l4 = ip + ihl
        let l4len = total &- ihl
        let field = proto == 6 ? 16 : 6
        guard l4len >= (proto == 6 ? 20 : 8) else { return false }
        let stored = Ethernet.u16(l4, field)
        if stored == 0 { return false }  // UDP without checksum (or not partial)
        let pseudo = Checksum.pseudoHeaderSum(ip: ip, protocol: proto, l4Length: l4len)
        guard stored == Checksum.fold(pseudo) else { return false }
        let s = Checksum.sum(l4, l4len)
        if Checksum.fold(s &+ pseudo) == 0xFFFF { return false }  // a complete checksum after all
        var c = ~Checksum.fold(s)
        if proto == 17 && c == 0 { c = 0xFFFF }
        (l4 + field).storeBytes(of: c.bigEndian, as: UInt16.self)
        return true
    }
}
