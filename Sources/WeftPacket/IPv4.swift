/// IPv4 header access on raw packet bytes (RFC 791). Fields are network
/// order in memory; these helpers load and store them without alignment
/// assumptions. Addresses are handled as host-order `UInt32`.
public enum IPv4 {
    public static let minHeaderLength = 20
    public static let protocolICMP: UInt8 = 1
    public static let protocolTCP: UInt8 = 6
    public static let protocolUDP: UInt8 = 17

    public static let offsetTotalLength = 2
    public static let offsetFragment = 6
    public static let offsetTTL = 8
    public static let offsetProtocol = 9
    public static let offsetChecksum = 10
    public static let offsetSource = 12
    public static let offsetDestination = 16

    /// Flags + fragment offset field (offset 6).
    public static let flagDontFragment: UInt16 = 0x4000
    public static let flagMoreFragments: UInt16 = 0x2000
    public static let fragmentOffsetMask: UInt16 = 0x1FFF

    @inlinable @inline(__always)
    public static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(bigEndian: (p + offset).loadUnaligned(as: UInt16.self))
    }

    @inlinable @inline(__always)
    public static func u32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(bigEndian: (p + offset).loadUnaligned(as: UInt32.self))
    }

    @inlinable @inline(__always)
    public static func store16(_ v: UInt16, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        (p + offset).storeBytes(of: v.bigEndian, as: UInt16.self)
    }

    @inlinable @inline(__always)
    public static func store32(_ v: UInt32, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        (p + offset).storeBytes(of: v.bigEndian, as: UInt32.self)
    }

    @inlinable @inline(__always)
    public static func headerLength(_ ip: UnsafeRawPointer) -> Int { Int(ip.load(as: UInt8.self) & 0x0F) &<< 2 }

    @inlinable @inline(__always)
    public static func source(_ ip: UnsafeRawPointer) -> UInt32 { u32(ip, offsetSource) }

    @inlinable @inline(__always)
    public static func destination(_ ip: UnsafeRawPointer) -> UInt32 { u32(ip, offsetDestination) }

    /// One's-complement sum of a 20-byte header, folded to 16 bits, in
    /// native word order. It is 0xFFFF exactly when the checksum verifies
    /// (0xFFFF reads the same in both byte orders).
    @inlinable @inline(__always)
    public static func headerSum20(_ ip: UnsafeRawPointer) -> UInt16 {
        var s = UInt64(ip.loadUnaligned(as: UInt32.self))
        s &+= UInt64((ip + 4).loadUnaligned(as: UInt32.self))
        s &+= UInt64((ip + 8).loadUnaligned(as: UInt32.self))
        s &+= UInt64((ip + 12).loadUnaligned(as: UInt32.self))
        s &+= UInt64((ip + 16).loadUnaligned(as: UInt32.self))
        s = (s & 0xFFFF_FFFF) &+ (s &>> 32)
        s = (s & 0xFFFF) &+ (s &>> 16)
        s = (s & 0xFFFF) &+ (s &>> 16)
        s = (s & 0xFFFF) &+ (s &>> 16)
        return UInt16(truncatingIfNeeded: s)
    }

    /// True when the header checksum of the `headerLength`-byte header at `ip` verifies.
    @inlinable @inline(__always)
    public static func headerChecksumValid(_ ip: UnsafeRawPointer, headerLength: Int) -> Bool {
        if headerLength == 20 { return headerSum20(ip) == 0xFFFF }
        return Checksum.fold(Checksum.sum(ip, headerLength)) == 0xFFFF
    }

    /// Computes and stores the header checksum (control and slow paths).
    @inlinable
    public static func setHeaderChecksum(_ ip: UnsafeMutableRawPointer, headerLength: Int) {
        (ip + offsetChecksum).storeBytes(of: 0, as: UInt16.self)
        store16(Checksum.finish(Checksum.sum(ip, headerLength)), ip, offsetChecksum)
    }

    /// Decrements the TTL by one and updates the header checksum
    /// incrementally (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')). The TTL and
    /// protocol share one 16-bit word m = ttl << 8 | protocol, and
    /// m' = m - 0x100, so ~m + m' = 0xFEFF whatever the TTL.
    @inlinable @inline(__always)
    public static func decrementTTL(_ ip: UnsafeMutableRawPointer) {
        let ttl = ip.load(fromByteOffset: offsetTTL, as: UInt8.self)
        ip.storeBytes(of: ttl &- 1, toByteOffset: offsetTTL, as: UInt8.self)
        adjustChecksum(ip, offsetChecksum, by: 0xFEFF)
    }

    /// Incremental update of the 16-bit Internet checksum stored at
    /// `p + offset` (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')), where `delta`
    /// is ~m + m' for the one 16-bit word that changed from m to m'.
    @inlinable @inline(__always)
    public static func adjustChecksum(_ p: UnsafeMutableRawPointer, _ offset: Int, by delta: UInt16) {
        var s = UInt32(~u16(p, offset)) &+ UInt32(delta)
        s = (s & 0xFFFF) &+ (s &>> 16)
        store16(~UInt16(truncatingIfNeeded: s), p, offset)
    }

    /// 224.0.0.0/4 multicast, 240.0.0.0/4 reserved and 255.255.255.255.
    @inlinable @inline(__always)
    public static func isMulticastOrReserved(_ a: UInt32) -> Bool { a >= 0xE000_0000 }

    public static func format(_ a: UInt32) -> String { "\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)" }

    /// "a.b.c.d" -> host-order address; the project's one dotted-quad parser.
    /// Strict like inet_pton(3): four decimal octets 0...255, no leading zeros
    /// ("010.1.2.3" is refused: other tools would read it as octal).
    public static func parse<S: StringProtocol>(_ s: S) -> UInt32? {
        var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, dots = 0, leadingZero = false
        for c in s.utf8 {
            if c >= 48 && c <= 57 {
                if leadingZero { return nil }
                if digits == 0 && c == 48 { leadingZero = true }
                octet = octet * 10 + UInt32(c - 48)
                digits += 1
                if digits > 3 || octet > 255 { return nil }
            } else if c == 46 {                      // "."
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0; digits = 0; dots += 1; leadingZero = false
            } else {
                return nil
            }
        }
        guard digits > 0, dots == 3 else { return nil }
        return value << 8 | octet
    }
}

/// ICMP (RFC 792) types and codes Weft sends or answers.
public enum ICMP {
    public static let headerLength = 8
    public static let typeEchoReply: UInt8 = 0
    public static let typeDestinationUnreachable: UInt8 = 3
    public static let typeEchoRequest: UInt8 = 8
    public static let typeTimeExceeded: UInt8 = 11
    /// Destination-unreachable codes.
    public static let codeNetUnreachable: UInt8 = 0
    public static let codeHostUnreachable: UInt8 = 1
    public static let codeProtocolUnreachable: UInt8 = 2
    public static let codePortUnreachable: UInt8 = 3
    public static let codeFragmentationNeeded: UInt8 = 4
    /// Time-exceeded code: TTL exceeded in transit.
    public static let codeTTLExceeded: UInt8 = 0

    /// Query messages (echo, timestamp, information, address mask); every
    /// other type is an error message, which must never trigger an ICMP
    /// error itself (RFC 1812 4.3.2.7).
    @inlinable
    public static func isQuery(_ type: UInt8) -> Bool {
        type == 0 || type == 8 || (type >= 13 && type <= 18)
    }
}

/// ARP for IPv4 over Ethernet (RFC 826): the 28-byte body after the
/// Ethernet header.
public enum ARP {
    public static let length = 28
    public static let opRequest: UInt16 = 1
    public static let opReply: UInt16 = 2
    public static let hardwareEthernet: UInt16 = 1
    public static let offsetOperation = 6
    public static let offsetSenderMAC = 8
    public static let offsetSenderIP = 14
    public static let offsetTargetMAC = 18
    public static let offsetTargetIP = 24

    /// htype 1, ptype 0x0800, hlen 6, plen 4 as one big-endian word pair.
    @inlinable @inline(__always)
    public static func isEthernetIPv4(_ p: UnsafeRawPointer) -> Bool {
        IPv4.u32(p, 0) == 0x0001_0800 && IPv4.u16(p, 4) == 0x0604
    }

    /// Writes a complete ARP body (operation, sender, target) at `p`.
    @inlinable
    public static func write(_ p: UnsafeMutableRawPointer, operation: UInt16, senderMAC: UInt64, senderIP: UInt32,
                             targetMAC: UInt64, targetIP: UInt32) {
        IPv4.store32(0x0001_0800, p, 0)
        IPv4.store16(0x0604, p, 4)
        IPv4.store16(operation, p, offsetOperation)
        Ethernet.storeMAC(senderMAC, at: p + offsetSenderMAC)
        IPv4.store32(senderIP, p, offsetSenderIP)
        Ethernet.storeMAC(targetMAC, at: p + offsetTargetMAC)
        IPv4.store32(targetIP, p, offsetTargetIP)
    }
}
