/// UDP header access on raw packet bytes (RFC 768). Ports and lengths are
/// network order in memory, handled here in host order.
public enum UDP {
    public static let headerLength = 8
    public static let offsetSourcePort = 0
    public static let offsetDestinationPort = 2
    public static let offsetLength = 4
    public static let offsetChecksum = 6

    @inlinable @inline(__always)
    public static func sourcePort(_ p: UnsafeRawPointer) -> UInt16 { IPv4.u16(p, offsetSourcePort) }

    @inlinable @inline(__always)
    public static func destinationPort(_ p: UnsafeRawPointer) -> UInt16 { IPv4.u16(p, offsetDestinationPort) }

    /// Header plus payload, from the UDP length field.
    @inlinable @inline(__always)
    public static func length(_ p: UnsafeRawPointer) -> UInt16 { IPv4.u16(p, offsetLength) }

    /// The checksum field as stored (0: the sender computed none, RFC 768).
    @inlinable @inline(__always)
    public static func checksum(_ p: UnsafeRawPointer) -> UInt16 { IPv4.u16(p, offsetChecksum) }

    /// True when the UDP datagram at `udp` (`length` bytes: header and payload,
    /// from the UDP length field) carried in the IPv4 packet at `ip` has a
    /// correct checksum, or none (0). RFC 1122 4.1.3.4: a datagram whose
    /// non-zero checksum is wrong is discarded.
    @inlinable
    public static func checksumValid(ip: UnsafeRawPointer, udp: UnsafeRawPointer, length: Int) -> Bool {
        if checksum(udp) == 0 { return true }
        let pseudo = Checksum.pseudoHeaderSum(ip: ip, protocol: IPv4.protocolUDP, l4Length: length)
        return Checksum.fold(Checksum.sum(udp, length, initial: pseudo)) == 0xFFFF
    }
}
