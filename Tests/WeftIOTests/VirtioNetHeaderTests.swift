import XCTest
import CShims
import WeftEngine
import WeftPacket
import WeftTestSupport
@testable import WeftIO

/// The one reader and writer of virtio-net headers: what each header a
/// kernel may send becomes, and the header written back for a super-frame.
final class VirtioNetHeaderTests: XCTestCase {
    let a = Pkt.ip("10.0.0.1"), b = Pkt.ip("10.0.0.2")

    func header(flags: UInt8 = UInt8(WEFT_VNET_F_NEEDS_CSUM), gso: Int = WEFT_VNET_GSO_TCPV4, gsoSize: UInt16 = 1448,
                csumStart: UInt16 = 34, csumOffset: UInt16 = 16) -> [UInt8] {
        TapNodeTests.vnet(flags: flags, gso: UInt8(gso), hdrLen: 54, gsoSize: gsoSize, csumStart: csumStart, csumOffset: csumOffset)
    }

    func frame(payload: Int = 10_000) -> [UInt8] {
        Pkt.ether(dst: 0x02_00_00_00_00_0B, src: 0x02_00_00_00_00_0A, Pkt.tcpSuperPacket(src: a, dst: b, payload: payload))
    }

    func accept(_ h: [UInt8], _ f: [UInt8], _ m: inout BufferMetadata) -> VirtioNetHeader.Received {
        h.withUnsafeBytes { hp in f.withUnsafeBytes { fp in
            VirtioNetHeader.accept(hp.baseAddress!, frame: fp.baseAddress!, headLength: min(f.count, BufferPool.maxDataLength),
                                   frameLength: f.count, into: &m)
        } }
    }

    func testTCPv4SuperFrameIsKeptWholeWithItsFields() {
        var m = BufferMetadata()
        XCTAssertEqual(accept(header(), frame(), &m), .whole)
        XCTAssertEqual(m.gsoSize, 1448)
        XCTAssertEqual(m.gsoType, GSOType.tcp4.rawValue)
        XCTAssertEqual(m.l4Offset, 34)
        XCTAssertTrue(m.flags.contains(.l4ChecksumPending))
        // The ECN bit does not change what it is.
        var e = BufferMetadata()
        XCTAssertEqual(accept(header(gso: WEFT_VNET_GSO_TCPV4 | WEFT_VNET_GSO_ECN), frame(), &e), .whole)
    }

    func testLyingAndUnsupportedHeadersAreToldApart() {
        var m = BufferMetadata()
        XCTAssertEqual(accept(header(gsoSize: 0), frame(), &m), .bad, "segment size 0")
        XCTAssertEqual(accept(header(gsoSize: 20_000), frame(), &m), .bad, "segment size past the frame")
        XCTAssertEqual(accept(header(csumStart: 30_000), frame(), &m), .bad, "checksum start past the frame")
        XCTAssertEqual(accept(header(csumStart: 38), frame(), &m), .bad, "checksum start not at the TCP header")
        XCTAssertEqual(accept(header(gso: 9), frame(), &m), .bad, "unknown GSO type")
        XCTAssertEqual(accept(header(gso: WEFT_VNET_GSO_UDP_L4, csumOffset: 6), frame(), &m), .bad, "UDP GSO of a TCP packet")
        XCTAssertEqual(accept(header(gso: WEFT_VNET_GSO_TCPV6), frame(), &m), .unsupported)
        XCTAssertEqual(accept(header(gso: WEFT_VNET_GSO_UDP), frame(), &m), .unsupported, "UFO")
        XCTAssertEqual(m.gsoSize, 0, "nothing written for a refused header")
        XCTAssertEqual(accept(header(flags: 0, gso: WEFT_VNET_GSO_NONE), frame(payload: 100), &m), .plain(partial: false))
        XCTAssertEqual(accept(header(gso: WEFT_VNET_GSO_NONE), frame(payload: 100), &m), .plain(partial: true))
    }

    func testSuperFrameWithoutPartialChecksumIsSegmentedAtInput() {
        var m = BufferMetadata()
        guard case .segment(let layout, let size) = accept(header(flags: 0), frame(), &m) else { return XCTFail() }
        XCTAssertEqual(size, 1448)
        XCTAssertEqual(layout.l4, 34)
        XCTAssertEqual(m.gsoSize, 0)
    }

    func testWrittenHeaderIsWhatTheKernelSentForAWholeSuperFrame() {
        var m = BufferMetadata()
        let f = frame()
        XCTAssertEqual(accept(header(), f, &m), .whole)
        m.length = UInt16(BufferPool.maxDataLength)
        var out = [UInt8](repeating: 0xEE, count: 10)
        let ok = out.withUnsafeMutableBytes { o in f.withUnsafeBytes { VirtioNetHeader.write(o.baseAddress!, for: &m, frame: $0.baseAddress!) } }
        XCTAssertTrue(ok)
        XCTAssertEqual(out, header())
        // No GSO, no partial checksum: all zero. Contradicting metadata: refused.
        var plain = BufferMetadata()
        plain.length = 100
        XCTAssertTrue(out.withUnsafeMutableBytes { o in f.withUnsafeBytes { VirtioNetHeader.write(o.baseAddress!, for: &plain, frame: $0.baseAddress!) } })
        XCTAssertEqual(out, [UInt8](repeating: 0, count: 10))
        m.gsoType = GSOType.tcp6.rawValue
        XCTAssertFalse(out.withUnsafeMutableBytes { o in f.withUnsafeBytes { VirtioNetHeader.write(o.baseAddress!, for: &m, frame: $0.baseAddress!) } })
    }

    func testWrittenHeaderForAUDPGSOFrameOfVXLANDatagrams() {
        // What vxlan4-encap hands the uplink: outer UDP at 34, datagrams of 1472 bytes, checksum partial.
        let f = Pkt.ether(dst: 0x02_00_00_00_00_0B, src: 0x02_00_00_00_00_0A,
                          Pkt.ipv4(src: a, dst: b, proto: 17, payload: Pkt.udp(sport: 49153, dport: 4789, [UInt8](repeating: 1, count: 3000))))
        var m = BufferMetadata()
        m.length = UInt16(f.count)
        m.gsoSize = 1472
        m.gsoType = GSOType.udpL4.rawValue
        m.l4Offset = 34
        m.flags = .l4ChecksumPending
        var out = [UInt8](repeating: 0xEE, count: 10)
        XCTAssertTrue(out.withUnsafeMutableBytes { o in f.withUnsafeBytes { VirtioNetHeader.write(o.baseAddress!, for: &m, frame: $0.baseAddress!) } })
        XCTAssertEqual(out, TapNodeTests.vnet(flags: UInt8(WEFT_VNET_F_NEEDS_CSUM), gso: UInt8(WEFT_VNET_GSO_UDP_L4), hdrLen: 42,
                                               gsoSize: 1472, csumStart: 34, csumOffset: 6))
        m.flags = []   // a UDP GSO frame whose checksum is not partial: the kernel could not fill it in
        XCTAssertFalse(out.withUnsafeMutableBytes { o in f.withUnsafeBytes { VirtioNetHeader.write(o.baseAddress!, for: &m, frame: $0.baseAddress!) } })
    }
}
