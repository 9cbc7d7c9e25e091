import XCTest
@testable import WeftPacket

final class ChecksumTests: XCTestCase {
    /// Straightforward RFC 1071 reference: big-endian 16-bit words.
    private func reference(_ bytes: [UInt8]) -> UInt16 {
        var s: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count { s += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { s += UInt32(bytes[i]) << 8 }
        while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
        return ~UInt16(s)
    }

    func testSumMatchesReferenceForAllLengths() {
        var rng = SystemRandomNumberGenerator()
        for len in 0..<100 {
            let bytes = (0..<len).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let ours = bytes.withUnsafeBytes { Checksum.finish(Checksum.sum($0.baseAddress!, len)) }
            XCTAssertEqual(ours, reference(bytes), "length \(len)")
        }
    }

    func testKnownIPv4HeaderChecksum() {
        // Example header from RFC 1071 discussions (checksum 0xb861).
        var h: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
                          0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]
        let c = h.withUnsafeBytes { Checksum.finish(Checksum.sum($0.baseAddress!, 20)) }
        XCTAssertEqual(c, 0xb861)
        h[10] = 0xb8; h[11] = 0x61
        XCTAssertTrue(h.withUnsafeBytes { IPv4.headerChecksumValid($0.baseAddress!, headerLength: 20) })
        h[11] ^= 1
        XCTAssertFalse(h.withUnsafeBytes { IPv4.headerChecksumValid($0.baseAddress!, headerLength: 20) })
    }

    func testCompletingAPartialTCPChecksum() {
        // IPv4/TCP with 5 payload bytes; the checksum field holds garbage as a
        // CHECKSUM_PARTIAL sender would leave it.
        var ip: [UInt8] = [0x45, 0, 0, 45, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 1, 0, 2, 10, 1, 0, 3]
        let tcp: [UInt8] = [0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0x10, 0x00, 0xde, 0xad, 0, 0,
                            0x68, 0x65, 0x6c, 0x6c, 0x6f]
        ip += tcp
        XCTAssertTrue(ip.withUnsafeMutableBytes { Checksum.completeIPv4L4(ip: $0.baseAddress!, length: $0.count) })
        // Verify: pseudo header + segment sums to 0xFFFF.
        var pseudo: [UInt8] = Array(ip[12..<20]) + [0, 6, 0, UInt8(tcp.count)]
        pseudo += ip[20...]
        XCTAssertEqual(reference(pseudo), 0)
    }

    func testCompletionRefusesTruncatedPackets() {
        var ip: [UInt8] = [0x45, 0, 0, 60, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 2, 10, 1, 0, 3, 0, 1, 0, 2]
        XCTAssertFalse(ip.withUnsafeMutableBytes { Checksum.completeIPv4L4(ip: $0.baseAddress!, length: $0.count) })
    }

    func testIPv4ParsingIsStrict() {
        XCTAssertEqual(IPv4.parse("10.1.0.2"), 0x0A01_0002)
        XCTAssertEqual(IPv4.parse("0.0.0.0"), 0)
        XCTAssertEqual(IPv4.parse("255.255.255.255"), 0xFFFF_FFFF)
        for bad in ["010.1.2.3", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1.2.3.4 ", "a.b.c.d", ""] {
            XCTAssertNil(IPv4.parse(bad), bad)
        }
        XCTAssertEqual(IPv4.format(IPv4.parse("192.0.2.1")!), "192.0.2.1")
    }

    func testMACParsingAndFormatting() {
        XCTAssertEqual(MACAddress.parse("02:fe:0a:01:00:02"), 0x02fe_0a01_0002)
        XCTAssertEqual(MACAddress.format(0x02fe_0a01_0002), "02:fe:0a:01:00:02")
        XCTAssertNil(MACAddress.parse("02:fe:0a:01:00"))
        XCTAssertNil(MACAddress.parse("02:fe:0a:01:00:zz"))
        XCTAssertEqual(MACAddress.bytes(0x0102_0304_0506), [1, 2, 3, 4, 5, 6])
    }
}
