/// Ethernet header access on raw packet bytes. Multi-byte fields are network
/// order in memory; these helpers load them without alignment assumptions.
public enum Ethernet {
    public static let headerLength = 14
    public static let vlanTagLength = 4
    public static let typeIPv4: UInt16 = 0x0800
    public static let typeARP: UInt16 = 0x0806
    public static let typeVLAN: UInt16 = 0x8100
    public static let typeQinQ: UInt16 = 0x88A8
    public static let typeIPv6: UInt16 = 0x86DD

    /// The 48-bit MAC at `p` as the low bits of a UInt64, first byte most significant.
    @inlinable @inline(__always)
    public static func mac(at p: UnsafeRawPointer) -> UInt64 {
        let hi = UInt64(UInt16(bigEndian: p.loadUnaligned(as: UInt16.self)))
        let lo = UInt64(UInt32(bigEndian: (p + 2).loadUnaligned(as: UInt32.self)))
        return (hi &<< 32) | lo
    }

    @inlinable @inline(__always)
    public static func storeMAC(_ mac: UInt64, at p: UnsafeMutableRawPointer) {
        p.storeBytes(of: UInt16(truncatingIfNeeded: mac >> 32).bigEndian, as: UInt16.self)
        (p + 2).storeBytes(of: UInt32(truncatingIfNeeded: mac).bigEndian, as: UInt32.self)
    }

    @inlinable @inline(__always)
    public static func destination(_ frame: UnsafeRawPointer) -> UInt64 { mac(at: frame) }

    @inlinable @inline(__always)
    public static func source(_ frame: UnsafeRawPointer) -> UInt64 { mac(at: frame + 6) }

    @inlinable @inline(__always)
    public static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(bigEndian: (p + offset).loadUnaligned(as: UInt16.self))
    }

    /// Offset of the IPv4 header behind the Ethernet header at `from` (one
    /// VLAN tag allowed), or nil when the frame is not IPv4 or is too short
    /// for its header (version 4, IHL in range). The one walk from an
    /// Ethernet frame to its IPv4 header for checksum and GSO code.
    @inlinable @inline(__always)
    public static func ipv4Offset(_ frame: UnsafeRawPointer, length: Int, from: Int = 0) -> Int? {
        guard from &+ headerLength <= length else { return nil }
        var l3 = from &+ headerLength
        var type = u16(frame, from &+ 12)
        if type == typeVLAN || type == typeQinQ {
            guard l3 &+ vlanTagLength <= length else { return nil }
            type = u16(frame, from &+ 16)
            l3 &+= vlanTagLength
        }
        guard type == typeIPv4, l3 &+ 20 <= length else { return nil }
        let vihl = frame.load(fromByteOffset: l3, as: UInt8.self)
        let hl = Int(vihl & 0x0F) &* 4
        guard vihl >> 4 == 4, hl >= 20, l3 &+ hl <= length else { return nil }
        return l3
    }

    /// Group bit: broadcast and multicast destinations.
    @inlinable @inline(__always)
    public static func isGroup(_ mac: UInt64) -> Bool { (mac >> 40) & 1 == 1 }
}

/// MAC text forms for the control plane and traces.
public enum MACAddress {
    public static func format(_ mac: UInt64) -> String {
        (0..<6).map { i in
            let b = UInt8(truncatingIfNeeded: mac >> UInt64(40 - 8 * i))
            return (b < 16 ? "0" : "") + String(b, radix: 16)
        }.joined(separator: ":")
    }

    public static func format(_ bytes: [UInt8]) -> String { format(value(bytes)) }

    public static func value(_ bytes: [UInt8]) -> UInt64 {
        bytes.prefix(6).reduce(0) { ($0 << 8) | UInt64($1) }
    }

    public static func bytes(_ mac: UInt64) -> [UInt8] {
        (0..<6).map { UInt8(truncatingIfNeeded: mac >> UInt64(40 - 8 * $0)) }
    }

    /// Parses "aa:bb:cc:dd:ee:ff"; nil when malformed.
    public static func parse(_ text: String) -> UInt64? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for p in parts {
            guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
            v = (v << 8) | UInt64(b)
        }
        return v
    }
}
