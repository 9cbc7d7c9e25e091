/// Test-side packet builders. Checksums are computed here with a plain
/// word-by-word loop, independently of WeftPacket, so the tests check the
/// nodes' arithmetic rather than reuse it.
public enum Pkt {
    public static func ip(_ s: String) -> UInt32 {
        let p = s.split(separator: ".").map { UInt32($0)! }
        return p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]
    }
    public static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    public static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    public static func mac(_ m: UInt64) -> [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: m >> UInt64(40 - 8 * $0)) } }

    /// Internet checksum of `bytes` (RFC 1071), the value to store.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
        let b = Array(bytes)
        var sum: UInt32 = 0
        var i = 0
        while i < b.count {
            let hi = UInt32(b[i]), lo = i + 1 < b.count ? UInt32(b[i + 1]) : 0
            sum += hi << 8 | lo
            i += 2
        }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    public static func headerValid(_ ip: ArraySlice<UInt8>) -> Bool {
        let hl = Int(ip[ip.startIndex] & 0x0F) * 4
        return checksum(ip.prefix(hl)) == 0
    }

    public static func ether(dst: UInt64, src: UInt64, type: UInt16 = 0x0800, _ payload: [UInt8]) -> [UInt8] {
        mac(dst) + mac(src) + be16(type) + payload
    }

    /// An IPv4 packet with a correct header checksum (unless `checksum` overrides it).
    public static func ipv4(src: UInt32, dst: UInt32, proto: UInt8 = 17, ttl: UInt8 = 64, id: UInt16 = 0x1234, flags: UInt16 = 0,
                     tos: UInt8 = 0, options: [UInt8] = [], payload: [UInt8], totalLength: Int? = nil,
                     versionIHL: UInt8? = nil, checksum override: UInt16? = nil) -> [UInt8] {
        let hl = 20 + options.count
        let total = totalLength ?? hl + payload.count
        var h: [UInt8] = [versionIHL ?? UInt8(0x40 | hl / 4), tos] + be16(UInt16(total)) + be16(id) + be16(flags)
        h += [ttl, proto, 0, 0] + be32(src) + be32(dst) + options
        let c = override ?? checksum(h)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
        return h + payload
    }

    public static func udp(sport: UInt16 = 40000, dport: UInt16 = 7, _ data: [UInt8]) -> [UInt8] {
        be16(sport) + be16(dport) + be16(UInt16(8 + data.count)) + [0, 0] + data
    }

    public static func icmp(type: UInt8, code: UInt8 = 0, rest: UInt32 = 0, _ data: [UInt8]) -> [UInt8] {
        var m: [UInt8] = [type, code, 0, 0] + be32(rest) + data
        let c = checksum(m)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xFF)
        return m
    }

    public static func arp(op: UInt16, sha: UInt64, spa: UInt32, tha: UInt64, tpa: UInt32) -> [UInt8] {
        [0, 1, 8, 0, 6, 4] + be16(op) + mac(sha) + be32(spa) + mac(tha) + be32(tpa)
    }

    /// Pads an Ethernet frame to the 60-byte minimum, as a NIC would.
    public static func padded(_ f: [UInt8]) -> [UInt8] { f.count >= 60 ? f : f + [UInt8](repeating: 0, count: 60 - f.count) }

    /// Copy of an IPv4 packet with TTL - 1 and the checksum recomputed from scratch.
    public static func forwarded(_ ip: [UInt8]) -> [UInt8] {
        var p = ip
        p[8] -= 1
        p[10] = 0; p[11] = 0
        let hl = Int(p[0] & 0x0F) * 4
        let c = checksum(p[0..<hl])
        p[10] = UInt8(c >> 8); p[11] = UInt8(c & 0xFF)
        return p
    }
}

/// TCP/UDP with real checksums, and independent full verification.
extension Pkt {
    /// Checksum over the IPv4 pseudo-header and `segment` (checksum field included as given).
    public static func pseudoChecksum(src: UInt32, dst: UInt32, proto: UInt8, _ segment: [UInt8]) -> UInt16 {
        checksum(be32(src) + be32(dst) + [0, proto] + be16(UInt16(segment.count)) + segment)
    }

    /// UDP datagram with its checksum computed (or 0 when `zeroChecksum`).
    public static func udpc(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, _ data: [UInt8], zeroChecksum: Bool = false) -> [UInt8] {
        var u = be16(sport) + be16(dport) + be16(UInt16(8 + data.count)) + [0, 0] + data
        if !zeroChecksum {
            var c = pseudoChecksum(src: src, dst: dst, proto: 17, u)
            if c == 0 { c = 0xFFFF }
            u[6] = UInt8(c >> 8); u[7] = UInt8(c & 0xFF)
        }
        return u
    }

    public static func tcp(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, seq: UInt32 = 1000, ack: UInt32 = 0,
                    flags: UInt8, _ data: [UInt8] = []) -> [UInt8] {
        var t = be16(sport) + be16(dport) + be32(seq) + be32(ack) + [0x50, flags] + be16(65535) + [0, 0, 0, 0] + data
        let c = pseudoChecksum(src: src, dst: dst, proto: 6, t)
        t[16] = UInt8(c >> 8); t[17] = UInt8(c & 0xFF)
        return t
    }

    /// A TCP segment as a sender with TSO leaves it for its NIC (a GSO
    /// super-frame's IPv4 packet): `payload` bytes of pattern, the checksum
    /// field holding only the pseudo-header sum (CHECKSUM_PARTIAL).
    public static func tcpSuperPacket(src: UInt32, dst: UInt32, sport: UInt16 = 40000, dport: UInt16 = 5201, payload: Int,
                                      dontFragment: Bool = true, ttl: UInt8 = 64) -> [UInt8] {
        let data = (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        var t = be16(sport) + be16(dport) + be32(1000) + be32(1) + [0x50, 0x18] + be16(65535) + [0, 0, 0, 0] + data
        let partial = partialPseudoSum(src: src, dst: dst, proto: 6, length: t.count)
        t[16] = UInt8(partial >> 8); t[17] = UInt8(partial & 0xFF)
        return ipv4(src: src, dst: dst, proto: 6, ttl: ttl, flags: dontFragment ? 0x4000 : 0, payload: t)
    }

    /// What a partial checksum field holds: the folded pseudo-header sum, not complemented.
    public static func partialPseudoSum(src: UInt32, dst: UInt32, proto: UInt8, length: Int) -> UInt16 {
        ~checksum(be32(src) + be32(dst) + [0, proto] + be16(UInt16(length)))
    }

    public static func udpPacket(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, ttl: UInt8 = 64, _ data: [UInt8] = [1, 2, 3, 4, 5]) -> [UInt8] {
        ipv4(src: src, dst: dst, proto: 17, ttl: ttl, payload: udpc(src: src, dst: dst, sport: sport, dport: dport, data))
    }

    public static func tcpPacket(src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, flags: UInt8, ttl: UInt8 = 64) -> [UInt8] {
        ipv4(src: src, dst: dst, proto: 6, ttl: ttl, payload: tcp(src: src, dst: dst, sport: sport, dport: dport, flags: flags, [7, 7, 7]))
    }

    public static func echo(src: UInt32, dst: UInt32, type: UInt8 = 8, id: UInt16, seq: UInt16 = 1, ttl: UInt8 = 64) -> [UInt8] {
        ipv4(src: src, dst: dst, proto: 1, ttl: ttl, payload: icmp(type: type, rest: UInt32(id) << 16 | UInt32(seq), [9, 8, 7, 6]))
    }

    public static func u16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) << 8 | UInt16(b[o + 1]) }
    public static func u32(_ b: [UInt8], _ o: Int) -> UInt32 { UInt32(u16(b, o)) << 16 | UInt32(u16(b, o + 2)) }

    /// Every checksum of an IPv4 packet recomputed from scratch and compared:
    /// the header, TCP/UDP (pseudo-header; UDP 0 = none), ICMP (whole
    /// message), and for an ICMP error the quoted header's checksum.
    public static func allChecksumsValid(_ ip: [UInt8]) -> Bool {
        let hl = Int(ip[0] & 0x0F) * 4
        guard checksum(ip[0..<hl]) == 0 else { return false }
        let total = Int(u16(ip, 2))
        let l4 = Array(ip[hl..<total])
        let src = u32(ip, 12), dst = u32(ip, 16)
        switch ip[9] {
        case 6: return pseudoChecksum(src: src, dst: dst, proto: 6, l4) == 0
        case 17: return u16(l4, 6) == 0 || pseudoChecksum(src: src, dst: dst, proto: 17, l4) == 0
        case 1:
            guard checksum(l4) == 0 else { return false }
            if l4[0] == 3 || l4[0] == 11 {
                let inner = Array(l4[8...])
                let ihl = Int(inner[0] & 0x0F) * 4
                return checksum(inner[0..<ihl]) == 0
            }
            return true
        default: return true
        }
    }
}
