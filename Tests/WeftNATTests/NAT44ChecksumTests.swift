import XCTest
import WeftTestSupport
import WeftPacket
@testable import WeftNAT

/// The translation arithmetic alone: thousands of random rewrites of TCP,
/// UDP and ICMP echo packets compared byte for byte with packets built from
/// scratch (checksums recomputed by Pkt, independently of WeftPacket).
final class NAT44ChecksumTests: XCTestCase {
    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
        mutating func u16() -> UInt16 { UInt16(truncatingIfNeeded: next()) }
        mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: next()) }
    }

    func build(_ proto: UInt8, src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16, payload: [UInt8], zeroUDP: Bool = false) -> [UInt8] {
        switch proto {
        case 6: return Pkt.ipv4(src: src, dst: dst, proto: 6, payload: Pkt.tcp(src: src, dst: dst, sport: sport, dport: dport, flags: 0x10, payload))
        case 17: return Pkt.ipv4(src: src, dst: dst, proto: 17, payload: Pkt.udpc(src: src, dst: dst, sport: sport, dport: dport, payload, zeroChecksum: zeroUDP))
        default: return Pkt.ipv4(src: src, dst: dst, proto: 1, payload: Pkt.icmp(type: 8, rest: UInt32(sport) << 16 | 7, payload))
        }
    }

    /// Runs parse + rewrite on `before` and returns the bytes.
    func rewrite(_ before: [UInt8], src: UInt32, sport: UInt16, dst: UInt32, dport: UInt16) -> [UInt8] {
        var bytes = before
        bytes.withUnsafeMutableBytes { b in
            let ip = b.baseAddress!
            var f = NAT44Flow()
            NAT44Packet.parse(ip, inbound: false, &f)
            XCTAssertEqual(f.kind, NAT44Flow.kindFlow)
            NAT44Packet.rewrite(ip, f, src: src, sport: sport, dst: dst, dport: dport, oldID: f.sport, newID: sport)
        }
        return bytes
    }

    func testRandomRewritesEqualFullRecomputation() {
        var rng = Rng(s: 0x1234_5678_9ABC_DEF1)
        for i in 0..<20000 {
            let proto: UInt8 = [6, 17, 1][i % 3]
            let payload = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let (s1, d1, s2, d2) = (rng.u32() | 1, rng.u32() | 1, rng.u32() | 1, rng.u32() | 1)
            let (sp1, dp1, sp2, dp2) = (rng.u16(), rng.u16(), rng.u16(), rng.u16())
            let dstChanges = i % 4 == 0
            let newDst = dstChanges ? d2 : d1, newDport = proto == 1 ? 0 : (dstChanges ? dp2 : dp1)
            let before = build(proto, src: s1, dst: d1, sport: sp1, dport: proto == 1 ? 0 : dp1, payload: payload)
            let after = rewrite(before, src: s2, sport: sp2, dst: newDst, dport: newDport)
            let expected = build(proto, src: s2, dst: newDst, sport: sp2, dport: newDport, payload: payload)
            if after != expected { XCTFail("case \(i) proto \(proto)"); return }
        }
    }

    /// A partial checksum (a GSO super-frame's, or any veth sender's with
    /// checksum offload) holds the pseudo-header sum: after the rewrite it
    /// must hold the new addresses' sum, so the kernel completing it per
    /// segment gets the right checksum; ports do not enter it.
    func testPartialChecksumGetsTheNewPseudoHeaderSum() {
        var rng = Rng(s: 0xFEED_F00D)
        for i in 0..<5000 {
            let proto: UInt8 = i % 2 == 0 ? 6 : 17
            let (s1, d1, s2, d2) = (rng.u32() | 1, rng.u32() | 1, rng.u32() | 1, i % 3 == 0 ? rng.u32() | 1 : 0)
            let payload = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var packet = build(proto, src: s1, dst: d1, sport: rng.u16(), dport: rng.u16(), payload: payload)
            let field = proto == 6 ? 20 + 16 : 20 + 6
            let l4Length = packet.count - 20
            let before = Pkt.partialPseudoSum(src: s1, dst: d1, proto: proto, length: l4Length)
            packet[field] = UInt8(before >> 8); packet[field + 1] = UInt8(before & 0xFF)
            let newDst = d2 == 0 ? d1 : d2
            packet.withUnsafeMutableBytes { b in
                var f = NAT44Flow()
                NAT44Packet.parse(b.baseAddress!, inbound: false, &f)
                f.checksumPartial = true
                NAT44Packet.rewrite(b.baseAddress!, f, src: s2, sport: rng.u16(), dst: newDst, dport: f.dport, oldID: 0, newID: 0)
            }
            let expected = Pkt.partialPseudoSum(src: s2, dst: newDst, proto: proto, length: l4Length)
            let got = UInt16(packet[field]) << 8 | UInt16(packet[field + 1])
            // 0x0000 and 0xFFFF are the same one's-complement number.
            if got != expected && !(got | expected == 0xFFFF && got & expected == 0) {
                XCTFail("case \(i) proto \(proto): \(got) != \(expected)"); return
            }
            XCTAssertTrue(Pkt.headerValid(packet[0..<20]))
        }
    }

    func testUDPChecksumZeroStaysZeroAndComputedZeroBecomesFFFF() {
        var rng = Rng(s: 99)
        for _ in 0..<2000 {
            let (s1, d1, s2) = (rng.u32() | 1, rng.u32() | 1, rng.u32() | 1)
            let (sp1, sp2) = (rng.u16(), rng.u16())
            // Zero: stays zero.
            let z = build(17, src: s1, dst: d1, sport: sp1, dport: 53, payload: [1, 2, 3], zeroUDP: true)
            XCTAssertEqual(rewrite(z, src: s2, sport: sp2, dst: d1, dport: 53),
                           build(17, src: s2, dst: d1, sport: sp2, dport: 53, payload: [1, 2, 3], zeroUDP: true))
            // A payload word chosen so that the translated datagram's checksum computes to 0 (sent as 0xFFFF).
            let probe = Pkt.udpc(src: s2, dst: d1, sport: sp2, dport: 53, [0, 0])
            let c0 = Pkt.pseudoChecksum(src: s2, dst: d1, proto: 17, Array(probe[0..<6]) + [0, 0] + [0, 0])
            let payload = Pkt.be16(c0)
            let after = rewrite(build(17, src: s1, dst: d1, sport: sp1, dport: 53, payload: payload), src: s2, sport: sp2, dst: d1, dport: 53)
            XCTAssertEqual(Pkt.u16(after, 26), 0xFFFF)
            XCTAssertEqual(after, build(17, src: s2, dst: d1, sport: sp2, dport: 53, payload: payload))
        }
    }
}
