/// Test-side packet builders. Checksums are computed here with a plain
/// word-by-word loop, independently of WeftPacket, so the tests check the
/// nodes' arithmetic rather than reuse it.
enum Pkt {
    static func ip(_ s: String) -> UInt32 {
        let p = s.split(separator: ".").map { UInt32($0)! }
        return p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]
    }
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func mac(_ m: UInt64) -> [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: m >> UInt64(40 - 8 * $0)) } }

    /// Internet checksum of `bytes` (RFC 1071), the value to store.
    static func checksum<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
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

    static func headerValid(_ ip: ArraySlice<UInt8>) -> Bool {
        let hl = Int(ip[ip.startIndex] & 0x0F) * 4
        return checksum(ip.prefix(hl)) == 0
    }

    static func ether(dst: UInt64, src: UInt64, type: UInt16 = 0x0800, _ payload: [UInt8]) -> [UInt8] {
        mac(dst) + mac(src) + be16(type) + payload
    }

    /// An IPv4 packet with a correct header checksum (unless `checksum` overrides it).
    static func ipv4(src: UInt32, dst: UInt32, proto: UInt8 = 17, ttl: UInt8 = 64, id: UInt16 = 0x1234, flags: UInt16 = 0,
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

    static func udp(sport: UInt16 = 40000, dport: UInt16 = 7, _ data: [UInt8]) -> [UInt8] {
        be16(sport) + be16(dport) + be16(UInt16(8 + data.count)) + [0, 0] + data
    }

    static func icmp(type: UInt8, code: UInt8 = 0, rest: UInt32 = 0, _ data: [UInt8]) -> [UInt8] {
        var m: [UInt8] = [type, code, 0, 0] + be32(rest) + data
        let c = checksum(m)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xFF)
        return m
    }

    static func arp(op: UInt16, sha: UInt64, spa: UInt32, tha: UInt64, tpa: UInt32) -> [UInt8] {
        [0, 1, 8, 0, 6, 4] + be16(op) + mac(sha) + be32(spa) + mac(tha) + be32(tpa)
    }

    /// Pads an Ethernet frame to the 60-byte minimum, as a NIC would.
    static func padded(_ f: [UInt8]) -> [UInt8] { f.count >= 60 ? f : f + [UInt8](repeating: 0, count: 60 - f.count) }

    /// Copy of an IPv4 packet with TTL - 1 and the checksum recomputed from scratch.
    static func forwarded(_ ip: [UInt8]) -> [UInt8] {
        var p = ip
        p[8] -= 1
        p[10] = 0; p[11] = 0
        let hl = Int(p[0] & 0x0F) * 4
        let c = checksum(p[0..<hl])
        p[10] = UInt8(c >> 8); p[11] = UInt8(c & 0xFF)
        return p
    }
}
