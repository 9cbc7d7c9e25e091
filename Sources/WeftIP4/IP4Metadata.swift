import WeftEngine

/// What the ip4 nodes keep in a buffer's metadata beyond the named fields.
///
/// - `reserved0` carries the ICMP error ip4-icmp-error is to send, written by
///   the node that hands it the packet (ip4-lookup, ip4-rewrite, ip4-local):
///   bits 0-7 type, 8-15 code, 32-63 the 4-byte "rest of header" (the
///   next-hop MTU of a fragmentation-needed message). Only meaningful on the
///   arc into ip4-icmp-error.
/// - `BufferFlags.ip4LocallyOriginated` (bit 8) marks packets this router
///   built (echo replies, ICMP errors): ip4-rewrite neither checks nor
///   decrements their TTL, and no ICMP error is ever sent about them.
extension BufferMetadata {
    @inlinable @inline(__always)
    public mutating func setICMPError(type: UInt8, code: UInt8, data: UInt32 = 0) {
        reserved0 = UInt64(type) | UInt64(code) &<< 8 | UInt64(data) &<< 32
    }

    @inlinable public var icmpErrorType: UInt8 { UInt8(truncatingIfNeeded: reserved0) }
    @inlinable public var icmpErrorCode: UInt8 { UInt8(truncatingIfNeeded: reserved0 &>> 8) }
    @inlinable public var icmpErrorData: UInt32 { UInt32(truncatingIfNeeded: reserved0 &>> 32) }
}

extension BufferFlags {
    /// Built by this router (echo reply, ICMP error): no TTL handling in
    /// ip4-rewrite, never the subject of an ICMP error.
    public static let ip4LocallyOriginated = BufferFlags(rawValue: 1 << 8)
}
