/// VXLAN (RFC 7348) header access on raw packet bytes. The 8-byte header
/// follows the outer UDP header: flags (0x08 = I, "VNI valid"), 3 reserved
/// bytes, the 24-bit VNI in bytes 4...6 and a reserved byte.
public enum VXLAN {
    public static let headerLength = 8
    /// IANA port (RFC 7348 section 5).
    public static let defaultPort: UInt16 = 4789
    /// The I flag: the VNI is valid. Must be set; the other flag bits are ignored on receipt.
    public static let flagI: UInt8 = 0x08
    public static let maxVNI: UInt32 = 0xFF_FFFF
    /// Outer IPv4 + UDP + VXLAN headers prepended in front of the inner frame.
    public static let encapLength = IPv4.minHeaderLength + UDP.headerLength + headerLength
    /// Bytes a tunnel adds on the underlay wire: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8.
    public static let overhead = Ethernet.headerLength + encapLength

    @inlinable @inline(__always)
    public static func flags(_ p: UnsafeRawPointer) -> UInt8 { p.load(as: UInt8.self) }

    @inlinable @inline(__always)
    public static func vni(_ p: UnsafeRawPointer) -> UInt32 { IPv4.u32(p, 4) &>> 8 }

    /// Writes a complete header: I flag, zero reserved fields, `vni`.
    @inlinable @inline(__always)
    public static func write(_ p: UnsafeMutableRawPointer, vni: UInt32) {
        IPv4.store32(UInt32(flagI) &<< 24, p, 0)
        IPv4.store32((vni & maxVNI) &<< 8, p, 4)
    }
}
