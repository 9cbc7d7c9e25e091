import XCTest
import WeftEngine
import WeftIO
import WeftPacket
@testable import WeftL2

/// The L2 path driven by pg: frames in on pg interfaces, byte-exact frames
/// out per port, drops under named counters.
final class L2NodeTests: XCTestCase {
    var g: EmbeddedGraph!
    var l2: L2Feature!
    var p1: UInt32 = 0, p2: UInt32 = 0, p3: UInt32 = 0

    override func setUpWithError() throws {
        let l2 = L2Feature(macTableCapacity: 4096)
        self.l2 = l2
        g = try EmbeddedGraph { l2.register(in: $0) }
        g.pgOutput.captureEnabled = true
        l2.domains.create(id: 1, learnLimit: 1000, macAgeSeconds: 300)
        p1 = g.addInterface("pg1"); p2 = g.addInterface("pg2"); p3 = g.addInterface("pg3")
        for p in [p1, p2, p3] { XCTAssertTrue(l2.attach(p, to: 1, interfaces: g.interfaces)) }
    }

    override func tearDown() {
        g.run()
        XCTAssertEqual(g.graph.framesInUse, 0)
        XCTAssertEqual(g.buffersInFlight, 0, "no buffer leaked")
    }

    static func frame(dst: UInt64, src: UInt64, type: UInt16 = 0x0800, payload: Int = 46, vlan: UInt16? = nil) -> [UInt8] {
        var f = MACAddress.bytes(dst) + MACAddress.bytes(src)
        if let vlan { f += [0x81, 0x00, UInt8(vlan >> 8), UInt8(vlan & 0xFF)] }
        f += [UInt8(type >> 8), UInt8(type & 0xFF)]
        f += (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        return f
    }

    let macA: UInt64 = 0x02_00_00_00_00_0A, macB: UInt64 = 0x02_00_00_00_00_0B

    func testUnknownUnicastFloodsThenLearnedUnicastGoesToOnePort() {
        let ab = Self.frame(dst: macB, src: macA)
        g.inject([ab], on: p1)
        g.run()
        XCTAssertEqual(g.pgOutput.captured[p2], [ab])
        XCTAssertEqual(g.pgOutput.captured[p3], [ab])
        XCTAssertNil(g.pgOutput.captured[p1], "never back out of the receiving port")
        XCTAssertEqual(g.graph.errorCount(node: "l2-fwd", error: "unknown-unicast"), 1)

        g.pgOutput.clearCapture()
        let ba = Self.frame(dst: macA, src: macB, payload: 100)
        g.inject([ba], on: p2)
        g.run()
        XCTAssertEqual(g.pgOutput.captured[p1], [ba], "A was learned on pg1")
        XCTAssertNil(g.pgOutput.captured[p3])

        g.pgOutput.clearCapture()
        g.inject([ab], on: p1)
        g.run()
        XCTAssertEqual(g.pgOutput.captured[p2], [ab], "B was learned on pg2")
        XCTAssertNil(g.pgOutput.captured[p3])
        XCTAssertEqual(l2.macTable.lookup(domain: 1, mac: macA), p1)
        XCTAssertEqual(g.graph.errorCount(node: "l2-learn", error: "learned"), 2)
    }

    func testBroadcastReachesEveryOtherPortUnchanged() {
        let bcast = Self.frame(dst: 0xFFFF_FFFF_FFFF, src: macA, type: 0x0806, payload: 28)
        g.inject([bcast], on: p2)
        g.run()
        XCTAssertEqual(g.pgOutput.captured[p1], [bcast])
        XCTAssertEqual(g.pgOutput.captured[p3], [bcast])
        XCTAssertNil(g.pgOutput.captured[p2])
    }

    func testMacMoveFollowsTheHost() {
        g.inject([Self.frame(dst: macB, src: macA)], on: p1); g.run()
        g.inject([Self.frame(dst: macB, src: macA)], on: p3); g.run()
        XCTAssertEqual(l2.macTable.lookup(domain: 1, mac: macA), p3)
        XCTAssertEqual(g.graph.errorCount(node: "l2-learn", error: "moved"), 1)
        g.pgOutput.clearCapture()
        let ba = Self.frame(dst: macA, src: macB)
        g.inject([ba], on: p2); g.run()
        XCTAssertEqual(g.pgOutput.captured[p3], [ba])
        XCTAssertNil(g.pgOutput.captured[p1])
    }

    func testSamePortDestinationIsFiltered() {
        g.inject([Self.frame(dst: macB, src: macA)], on: p1); g.run()
        g.inject([Self.frame(dst: macA, src: macB)], on: p1); g.run()   // B now also behind pg1
        g.pgOutput.clearCapture()
        g.inject([Self.frame(dst: macB, src: macA)], on: p1); g.run()
        XCTAssertTrue(g.pgOutput.captured.isEmpty)
        XCTAssertEqual(g.graph.errorCount(node: "l2-fwd", error: "filtered"), 2)
    }

    func testMalformedFramesAreDroppedUnderNamedCounters() {
        let tooShort = [UInt8](repeating: 0x02, count: 13)
        let vlanCut = Array(Self.frame(dst: macB, src: macA, vlan: 5).prefix(16))
        let tooLong = Self.frame(dst: macB, src: macA, payload: 1501)
        let srcMulticast = Self.frame(dst: macB, src: 0x01_00_5E_00_00_01)
        g.inject([tooShort, vlanCut, tooLong, srcMulticast], on: p1)
        g.run()
        XCTAssertTrue(g.pgOutput.captured.isEmpty)
        XCTAssertEqual(g.graph.errorCount(node: "ethernet-input", error: "too-short"), 1)
        XCTAssertEqual(g.graph.errorCount(node: "ethernet-input", error: "vlan-truncated"), 1)
        XCTAssertEqual(g.graph.errorCount(node: "ethernet-input", error: "too-long"), 1)
        XCTAssertEqual(g.graph.errorCount(node: "l2-input", error: "source-multicast"), 1)
        XCTAssertEqual(g.interfaces.drops[Int(p1)], 4)
    }

    func testMaxSizeAndTaggedFramesPass() {
        let full = Self.frame(dst: macB, src: macA, payload: 1500)
        let tagged = Self.frame(dst: macB, src: macA, payload: 1500, vlan: 42)
        g.inject([full, tagged], on: p1)
        g.run()
        XCTAssertEqual(g.pgOutput.captured[p2], [full, tagged])
    }

    func testInterfaceOutsideAnyBridgeDomainDrops() {
        let p4 = g.addInterface("pg4")
        g.inject([Self.frame(dst: macB, src: macA)], on: p4)
        g.run()
        XCTAssertEqual(g.graph.errorCount(node: "ethernet-input", error: "not-bridged"), 1)
    }

    func testBurstsKeepOrderThroughTheBridge() {
        // Learn B on pg2 first so the burst is forwarded, not flooded.
        g.inject([Self.frame(dst: macA, src: macB)], on: p2); g.run()
        for burst in [1, 255, 256, 257] {
            g.pgOutput.clearCapture()
            let frames = (0..<burst).map { i -> [UInt8] in
                var f = Self.frame(dst: macB, src: macA, payload: 46)
                f[14] = UInt8(i >> 8); f[15] = UInt8(i & 0xFF)
                return f
            }
            g.inject(frames, on: p1)
            g.run()
            XCTAssertEqual(g.pgOutput.captured[p2]?.count, burst, "burst \(burst)")
            XCTAssertEqual(g.pgOutput.captured[p2], frames, "burst \(burst): order and bytes kept")
        }
    }

    func testLearnLimitCountsButStillForwards() {
        l2.domains.learnLimit[1] = 2
        let frames = (1...5).map { Self.frame(dst: 0xFFFF_FFFF_FFFF, src: UInt64(0x0200_0000_0100 + $0)) }
        g.inject(frames, on: p1)
        g.run()
        XCTAssertEqual(g.graph.errorCount(node: "l2-learn", error: "learned"), 2)
        XCTAssertEqual(g.graph.errorCount(node: "l2-learn", error: "learn-limit"), 3)
        XCTAssertEqual(g.pgOutput.captured[p2]?.count, 5)
    }

    func testTraceShowsThePathOfOnePacket() {
        g.graph.trace.arm(node: g.pgInput.index, count: 1)
        g.inject([Self.frame(dst: macB, src: macA), Self.frame(dst: macB, src: macA)], on: p1)
        g.run()
        let lines = g.graph.trace.snapshot().map { g.graph.nodes[Int($0.node)].formatTrace($0) }
        XCTAssertEqual(lines.first, "pg-input: stream on sw_if_index \(p1), 60 bytes")
        XCTAssertTrue(lines.contains { $0.hasPrefix("ethernet-input: IP4 02:00:00:00:00:0a -> 02:00:00:00:00:0b") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("l2-fwd: 02:00:00:00:00:0b unknown -> flood") }, "\(lines)")
        XCTAssertEqual(Set(g.graph.trace.snapshot().map(\.packet)), [0], "only one packet traced")
    }
}
