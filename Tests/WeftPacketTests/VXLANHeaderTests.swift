import XCTest
@testable import WeftPacket

final class VXLANHeaderTests: XCTestCase {
    func testHeaderLayout() {
        var h = [UInt8](repeating: 0xFF, count: 8)
        h.withUnsafeMutableBytes { VXLAN.write($0.baseAddress!, vni: 0x12_3456) }
        XCTAssertEqual(h, [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0])
        XCTAssertEqual(h.withUnsafeBytes { VXLAN.vni($0.baseAddress!) }, 0x12_3456)
        XCTAssertEqual(h.withUnsafeBytes { VXLAN.flags($0.baseAddress!) }, VXLAN.flagI)
        XCTAssertEqual(VXLAN.encapLength, 36)
        XCTAssertEqual(VXLAN.overhead, 50)
        XCTAssertEqual(VXLAN.defaultPort, 4789)
        let udp: [UInt8] = [0xC0, 0x01, 0x12, 0xB5, 0x00, 0x2A, 0, 0]
        udp.withUnsafeBytes {
            XCTAssertEqual(UDP.sourcePort($0.baseAddress!), 0xC001)
            XCTAssertEqual(UDP.destinationPort($0.baseAddress!), 4789)
            XCTAssertEqual(UDP.length($0.baseAddress!), 42)
        }
    }

    /// The frame-level completion af-packet-output and vxlan4-encap share:
    /// untagged and 802.1Q-tagged IPv4 UDP, non-IPv4 left alone.
    func testCompletingAFramesL4Checksum() {
        let ip: [UInt8] = [0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        let udp: [UInt8] = [0x9C, 0x40, 0x00, 0x07, 0x00, 0x0C, 0xAB, 0xCD, 1, 2, 3, 4]
        func reference(_ b: [UInt8]) -> UInt16 {
            var s: UInt32 = 0
            var i = 0
            while i + 1 < b.count { s += UInt32(b[i]) << 8 | UInt32(b[i + 1]); i += 2 }
            if i < b.count { s += UInt32(b[i]) << 8 }
            while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
            return UInt16(s)
        }
        let pseudo: [UInt8] = [10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 12]
        for tag in [[], [0x81, 0x00, 0x00, 0x05]] as [[UInt8]] {
            var f = [UInt8](repeating: 2, count: 12) + tag + [0x08, 0x00] + ip + udp
            XCTAssertTrue(f.withUnsafeMutableBytes { Checksum.completeEthernetL4(frame: $0.baseAddress!, length: $0.count) })
            let l4 = Array(f[(14 + tag.count + 20)...])
            XCTAssertEqual(reference(pseudo + l4), 0xFFFF, "UDP checksum verifies (tag \(tag))")
        }
        var arp = [UInt8](repeating: 2, count: 12) + [0x08, 0x06] + [UInt8](repeating: 0, count: 28)
        let before = arp
        XCTAssertFalse(arp.withUnsafeMutableBytes { Checksum.completeEthernetL4(frame: $0.baseAddress!, length: $0.count) })
        XCTAssertEqual(arp, before)
        var short: [UInt8] = [1, 2, 3]
        XCTAssertFalse(short.withUnsafeMutableBytes { Checksum.completeEthernetL4(frame: $0.baseAddress!, length: $0.count) })
    }
}
