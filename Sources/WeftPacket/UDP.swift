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
}
