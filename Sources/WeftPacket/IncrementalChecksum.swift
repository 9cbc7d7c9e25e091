/// Incremental update of Internet checksums when several fields change at
/// once (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m'), summed over every changed
/// 16-bit word). Callers accumulate the changes into an unfolded `UInt32`
/// delta with `delta32` / `delta16` and apply it once per checksum field:
/// the IPv4 header checksum for an address change, the TCP/UDP checksum for
/// an address (pseudo-header) plus port change, the ICMP checksum for an
/// echo identifier change.
public enum IncrementalChecksum {
    /// ~old + new for a 32-bit field (two 16-bit words), unfolded.
    @inlinable @inline(__always)
    public static func delta32(_ old: UInt32, _ new: UInt32) -> UInt32 {
        let o = ~old
        return (o &>> 16) &+ (o & 0xFFFF) &+ (new &>> 16) &+ (new & 0xFFFF)
    }

    /// ~old + new for one 16-bit word.
    @inlinable @inline(__always)
    public static func delta16(_ old: UInt16, _ new: UInt16) -> UInt32 {
        UInt32(~old) &+ UInt32(new)
    }

    /// One's-complement difference of two folded sums of the same region
    /// (`new - old`), for regions rewritten in place: ~sumOld + sumNew.
    @inlinable @inline(__always)
    public static func deltaSums(old: UInt32, new: UInt32) -> UInt32 {
        UInt32(~Checksum.fold(old)) &+ UInt32(Checksum.fold(new))
    }

    /// Applies `delta` to the checksum stored (big-endian) at `p + offset`.
    @inlinable @inline(__always)
    public static func apply(_ p: UnsafeMutableRawPointer, _ offset: Int, _ delta: UInt32) {
        let old = UInt16(bigEndian: (p + offset).loadUnaligned(as: UInt16.self))
        var s = UInt32(~old) &+ delta
        s = (s & 0xFFFF) &+ (s &>> 16)
        s = (s & 0xFFFF) &+ (s &>> 16)
        s = (s & 0xFFFF) &+ (s &>> 16)
        (p + offset).storeBytes(of: (~UInt16(truncatingIfNeeded: s)).bigEndian, as: UInt16.self)
    }

    /// As `apply`, for a UDP checksum: 0 (none) stays 0, and a result of 0
    /// is stored as 0xFFFF (RFC 768).
    @inlinable @inline(__always)
    public static func applyUDP(_ p: UnsafeMutableRawPointer, _ offset: Int, _ delta: UInt32) {
        let old = UInt16(bigEndian: (p + offset).loadUnaligned(as: UInt16.self))
        if old == 0 { return }
        var s = UInt32(~old) &+ delta
        s = (s & 0xFFFF) &+ (s &>> 16)
        s = (s & 0xFFFF) &+ (s &>> 16)
        s = (s & 0xFFFF) &+ (s &>> 16)
        var c = ~UInt16(truncatingIfNeeded: s)
        if c == 0 { c = 0xFFFF }
        (p + offset).storeBytes(of: c.bigEndian, as: UInt16.self)
    }

    /// As `apply`, for a partial checksum (CHECKSUM_PARTIAL): the field holds
    /// the pseudo-header's sum, not complemented, so `delta` is added as is.
    @inlinable @inline(__always)
    public static func applyPartial(_ p: UnsafeMutableRawPointer, _ offset: Int, _ delta: UInt32) {
        let old = UInt16(bigEndian: (p + offset).loadUnaligned(as: UInt16.self))
        var s = UInt32(old) &+ delta
        s = (s & 0xFFFF) &+ (s &>> 16)
        s = (s & 0xFFFF) &+ (s &>> 16)
        s = (s & 0xFFFF) &+ (s &>> 16)
        (p + offset).storeBytes(of: UInt16(truncatingIfNeeded: s).bigEndian, as: UInt16.self)
    }
}
