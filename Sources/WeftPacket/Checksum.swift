/// Internet checksum (RFC 1071) and completion of partial L4 checksums.
public enum Checksum {
    /// One's-complement sum of `length` bytes folded to 32 bits (not complemented).
    @inlinable
    public static func sum(_ p: UnsafeRawPointer, _ length: Int, initial: UInt32 = 0) -> UInt32 {
        // Work in byte-swapped (little-endian) word order; bring `initial`,
        // a big-endian-order sum, into that domain first.
        var acc = UInt64(fold(initial).byteSwapped)
        var i = 0
        while i &+ 8 <= length {
            let w = (p + i).loadUnaligned(as: UInt64.self)
            acc = acc &+ (w & 0xFFFF_FFFF) &+ (w >> 32)
            i &+= 8
        }
        while i &+ 2 <= length {
            acc &+= UInt64((p + i).loadUnaligned(as: UInt16.self))
            i &+= 2
        }
        if i < length { acc &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) }
        // Summing native-order words and swapping at the end equals summing
        // big-endian words (RFC 1071 byte-order independence).
        while acc >> 16 != 0 { acc = (acc & 0xFFFF) &+ (acc >> 16) }
        return UInt32(UInt16(acc).byteSwapped)
    }

    @inlinable
    public static func fold(_ s: UInt32) -> UInt16 {
        var s = s
        while s >> 16 != 0 { s = (s & 0xFFFF) &+ (s >> 16) }
        return UInt16(s)
    }

    /// The IPv4 pseudo-header sum (RFC 793/768: source, destination,
    /// protocol, L4 length) of the packet at `ip`, unfolded: what a TCP/UDP
    /// checksum starts from, and, folded and not complemented, what a partial
    /// (CHECKSUM_PARTIAL) checksum field holds.
    @inlinable
    public static func pseudoHeaderSum(ip: UnsafeRawPointer, protocol proto: UInt8, l4Length: Int) -> UInt32 {
        sum(ip + 12, 8) &+ UInt32(proto) &+ UInt32(truncatingIfNeeded: l4Length)
    }

    /// Checksum value to store (complemented), in host order.
    @inlinable
    public static func finish(_ s: UInt32) -> UInt16 { ~fold(s) }

    /// Computes the TCP or UDP checksum of the IPv4 packet at `ip` (of
    /// `length` valid bytes) from scratch and stores it. Used for veth packets
    /// whose checksum the sender left partial (CHECKSUM_PARTIAL). Returns
    /// false when the packet is not IPv4 TCP/UDP or is truncated.
    @discardableResult
    public static func completeIPv4L4(ip: UnsafeMutableRawPointer, length: Int) -> Bool {
        guard length >= 20, ip.load(as: UInt8.self) >> 4 == 4 else { return false }
        let ihl = Int(ip.load(as: UInt8.self) & 0x0F) * 4
        let total = Int(Ethernet.u16(ip, 2))
        guard ihl >= 20, total >= ihl, total <= length else { return false }
        let proto = ip.load(fromByteOffset: 9, as: UInt8.self)
        let l4 = ip + ihl
        let l4len = total - ihl
        let field: Int
        switch proto {
        case 6: field = 16; guard l4len >= 20 else { return false }
        case 17: field = 6; guard l4len >= 8 else { return false }
        default: return false
        }
        (l4 + field).storeBytes(of: 0, as: UInt16.self)
        let pseudo = pseudoHeaderSum(ip: ip, protocol: proto, l4Length: l4len)
        var c = finish(sum(l4, l4len, initial: pseudo))
        if proto == 17 && c == 0 { c = 0xFFFF }           // UDP: 0 means "no checksum"
        (l4 + field).storeBytes(of: c.bigEndian, as: UInt16.self)
        return true
    }

    /// Completes a partial (CHECKSUM_PARTIAL) TCP/UDP checksum of the
    /// Ethernet frame at `frame` (`length` valid bytes; untagged or one
    /// 802.1Q/802.1ad tag): the one place this is done, used by every node
    /// that sends a frame on (af-packet-output, vxlan4-encap). Returns false
    /// when the frame is not IPv4 TCP/UDP or is truncated (left unchanged).
    @discardableResult
    public static func completeEthernetL4(frame: UnsafeMutableRawPointer, length: Int) -> Bool {
        guard let l3 = Ethernet.ipv4Offset(frame, length: length) else { return false }
        return completeIPv4L4(ip: frame + l3, length: length - l3)
    }
}
