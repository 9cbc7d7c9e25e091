import WeftEngine

/// What the ip4 nodes keep in a buffer's metadata beyond the named fields.
///
/// - `scratch` carries the ICMP error ip4-icmp-error is to send, written by
///   the node that hands it the packet (ip4-lookup, ip4-rewrite, ip4-local):
///   bits 0-7 type, 8-15 code, 16-31 the low half of the "rest of header"
///   (the next-hop MTU of a fragmentation-needed message; the high half is
///   always 0 in the messages weft sends). Only meaningful on the arc into
///   ip4-icmp-error.
/// - `BufferFlags.ip4LocallyOriginated` (bit 8) marks packets this router
///   built (echo replies, ICMP errors): ip4-rewrite neither checks nor
///   decrements their TTL, and no ICMP error is ever sent about them.
extension BufferMetadata {
    @inlinable @inline(__always)
    public mutating func setICMPError(type: UInt8, code: UInt8, data: UInt16 = 0) {
        scratch = UInt32(type) | UInt32(code) &<< 8 | UInt32(data) &<< 16
    }

    @inlinable public var icmpErrorType: UInt8 { UInt8(truncatingIfNeeded: scratch) }
    @inlinable public var icmpErrorCode: UInt8 { UInt8(truncatingIfNeeded: scratch &>> 8) }
    @inlinable public var icmpErrorData: UInt32 { scratch &>> 16 }
}

extension BufferFlags {
    /// Built by this router (echo reply, ICMP error): no TTL handling in
    /// ip4-rewrite, never the subject of an ICMP error.
    public static let ip4LocallyOriginated = BufferFlags(rawValue: 1 << 8)
}
