import XCTest
import WeftTestSupport
import WeftEngine
@testable import WeftIP4

/// GSO super-frames (buffer chains with TCPv4 GSO fields) on the IPv4 path:
/// routed whole, checked against the MTU by their segments, cut by
/// gso-segment for a port that cannot take them, answered with
/// fragmentation needed when DF forbids the cut. Same topology as IP4NodeTests.
extension IP4NodeTests {
    func superFrame(payload: Int, dontFragment: Bool = true) -> [UInt8] {
        Pkt.ether(dst: r1MAC, src: aMAC, Pkt.tcpSuperPacket(src: a, dst: b, payload: payload, dontFragment: dontFragment))
    }

    func testSuperFrameIsRoutedWholeToAPortThatTakesIt() {
        g.interfaces.takesLargeFrames[Int(p2)] = 1
        for payload in [3000, 20_000, 64_000] {
            let frame = superFrame(payload: payload)
            let r = g.sendLarge(frame, on: p1, gsoSize: 1448)
            XCTAssertEqual(r.out[p2], [Pkt.ether(dst: bMAC, src: r2MAC, Pkt.forwarded(Array(frame.dropFirst(14))))], "\(payload)")
            XCTAssertEqual(r.sizes[p2], [1448], "\(payload): still one GSO frame of 1448-byte segments")
            XCTAssertEqual(r.counters, [:], "\(payload)")
        }
    }

    func testSuperFrameToAPortThatCannotTakeItIsSegmented() {
        g.interfaces.takesLargeFrames[Int(p2)] = 0
        let frame = superFrame(payload: 20_000)
        let r = g.sendLarge(frame, on: p1, gsoSize: 1448)
        let out = r.out[p2] ?? []
        XCTAssertEqual(out.count, 14)
        XCTAssertTrue(out.allSatisfy { $0.count - 14 <= 1500 && Pkt.allChecksumsValid(Array($0.dropFirst(14))) })
        XCTAssertEqual(out.reduce(0) { $0 + $1.count - 14 - 40 }, 20_000, "every payload byte, once")
        XCTAssertEqual(r.sizes[p2], [UInt16](repeating: 0, count: 14))
        XCTAssertEqual(r.counters, ["gso-segment/segmented": 14])
    }

    func testSuperFrameWithDFOverTheMTUGetsFragmentationNeeded() throws {
        try build(mtu2: 1280)
        g.interfaces.takesLargeFrames[Int(p2)] = 1
        let frame = superFrame(payload: 20_000)
        let r = g.sendLarge(frame, on: p1, gsoSize: 1448)
        XCTAssertNil(r.out[p2])
        XCTAssertEqual(r.out[p1], [icmpErrorToA(type: 3, code: 4, rest: 1280, about: Array(frame.dropFirst(14)))],
                       "one error quoting the header, from the first buffer only; the chain is freed (tearDown)")
        XCTAssertEqual(r.counters, ["ip4-rewrite/fragmentation-needed": 1, "ip4-icmp-error/fragmentation-needed-sent": 1])
        // Segments that fit pass whole.
        let fits = g.sendLarge(frame, on: p1, gsoSize: 1240)
        XCTAssertEqual(fits.sizes[p2], [1240])
    }

    func testSuperFrameWithoutDFIsCutToTheMTU() throws {
        try build(mtu2: 1280)
        g.interfaces.takesLargeFrames[Int(p2)] = 1
        let r = g.sendLarge(superFrame(payload: 20_000, dontFragment: false), on: p1, gsoSize: 1448)
        XCTAssertEqual(r.sizes[p2], [1240], "segment size lowered to MTU - IP - TCP headers")
        XCTAssertEqual(r.counters, [:])
        g.interfaces.takesLargeFrames[Int(p2)] = 0
        let cut = g.sendLarge(superFrame(payload: 20_000, dontFragment: false), on: p1, gsoSize: 1448)
        XCTAssertEqual(cut.out[p2]?.count, 17)
        XCTAssertTrue((cut.out[p2] ?? []).allSatisfy { $0.count - 14 <= 1280 })
    }

    func testChainWhoseTotalLengthDisagreesIsTruncated() {
        var frame = superFrame(payload: 5000)
        frame.removeLast(10)   // the IPv4 total length now says 10 bytes more than the chain holds
        let r = g.sendLarge(frame, on: p1, gsoSize: 1448)
        XCTAssertTrue(r.out.isEmpty)
        XCTAssertEqual(r.counters, ["ip4-input/truncated": 1])
        frame += [UInt8](repeating: 0, count: 30)  // 20 bytes more than the total length: no padding in a chain
        XCTAssertEqual(g.sendLarge(frame, on: p1, gsoSize: 1448).counters, ["ip4-input/truncated": 1])
    }
}
