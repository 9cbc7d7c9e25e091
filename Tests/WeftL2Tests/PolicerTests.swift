import XCTest
import WeftEngine
import WeftIO
import WeftPacket
import WeftTestSupport
@testable import WeftL2

/// Bandwidth policers (CNI bandwidth capability): egress in l2-input for
/// what a container sends, ingress in l2-output for what is sent to it.
/// Time is the test's: the table's clock is a variable here, at 1 GHz, so
/// one byte per microsecond (8 Mbit/s) is one byte every 1000 ticks.
final class PolicerTests: XCTestCase {
    var g: EmbeddedGraph!
    var l2: L2Feature!
    var now: UInt64 = 1_000_000
    var c1: UInt32 = 0, c2: UInt32 = 0, other: UInt32 = 0
    let macA: UInt64 = 0x02_FE_0A_01_00_02, macB: UInt64 = 0x02_FE_0A_01_00_03, macC: UInt64 = 0x02_FE_0A_01_00_04
    let hz: UInt64 = 1_000_000_000
    /// 8 Mbit/s = 1,000,000 bytes/s = one byte per 1000 ticks.
    let rate: UInt64 = 8_000_000
    let ticksPerByte: UInt64 = 1000

    override func setUpWithError() throws {
        let policer = PolicerTable(hz: hz, clock: { [unowned self] in self.now })
        let l2 = L2Feature(macTableCapacity: 1024, policer: policer)
        self.l2 = l2
        g = try EmbeddedGraph { l2.register(in: $0) }
        g.pgOutput.captureEnabled = true
        l2.domains.create(id: 1, learnLimit: 100, macAgeSeconds: 300)
        c1 = g.addInterface("c1"); c2 = g.addInterface("c2"); other = g.addInterface("c3")
        for p in [c1, c2, other] { XCTAssertTrue(l2.attach(p, to: 1, interfaces: g.interfaces)) }
        // Every MAC known, so unicast goes to one port only.
        _ = g.send([frame(from: macB, to: macA)], on: c2)
        _ = g.send([frame(from: macC, to: macA)], on: other)
        _ = g.send([frame(from: macA, to: macB)], on: c1)
    }

    override func tearDown() {
        g.run()
        XCTAssertEqual(g.buffersInFlight, 0)
    }

    /// A 100-byte frame.
    func frame(from src: UInt64, to dst: UInt64) -> [UInt8] {
        let f = Pkt.ether(dst: dst, src: src, Pkt.udpPacket(src: Pkt.ip("10.1.0.2"), dst: Pkt.ip("10.1.0.3"), sport: 1, dport: 2,
                                                             [UInt8](repeating: 7, count: 58)))
        precondition(f.count == 100)
        return f
    }

    /// `n` frames c1 (or c3) -> c2 in one vector: (delivered to c2, counters that moved).
    func burst(_ n: Int, fromC3: Bool = false) -> (delivered: Int, moved: [String: UInt64]) {
        let f = fromC3 ? frame(from: macC, to: macB) : frame(from: macA, to: macB)
        let r = g.send(Array(repeating: f, count: n), on: fromC3 ? other : c1)
        return (r.out[c2]?.count ?? 0, r.counters)
    }

    func testEgressBurstThenRefillFromTheClock() {
        // Bucket: 10.5 frames. A burst of 25 at one instant: exactly 10 pass.
        l2.policer.set(c1, .egress, rateBitsPerSecond: rate, burstBits: 1050 * 8)
        var r = burst(25)
        XCTAssertEqual(r.delivered, 10)
        XCTAssertEqual(r.moved["l2-input/policed"], 15)
        XCTAssertEqual(l2.policer.tokenBytes(c1, .egress), 50)

        // Same instant: nothing more.
        r = burst(3)
        XCTAssertEqual(r.delivered, 0)
        XCTAssertEqual(r.moved["l2-input/policed"], 3)

        // 300 bytes of time later: 50 + 300 = 350 bytes, 3 frames.
        now += 300 * ticksPerByte
        r = burst(5)
        XCTAssertEqual(r.delivered, 3)
        XCTAssertEqual(r.moved["l2-input/policed"], 2)

        // An hour later the bucket is full, not fuller: 10 frames again.
        now += 3600 * hz
        r = burst(25)
        XCTAssertEqual(r.delivered, 10)
        XCTAssertEqual(r.moved["l2-input/policed"], 15)

        // Other ports and the other direction are not limited.
        XCTAssertEqual(g.send(Array(repeating: frame(from: macC, to: macB), count: 25), on: other).out[c2]?.count, 25)
        XCTAssertFalse(l2.policer.isPoliced(c1, .ingress))
    }

    func testIngressLimitsWhatTheContainerReceivesFromAnyPort() {
        l2.policer.set(c2, .ingress, rateBitsPerSecond: rate, burstBits: 1050 * 8)
        var r = burst(8)
        XCTAssertEqual(r.delivered, 8)
        r = burst(8, fromC3: true)  // from c3: the same bucket (c2's ingress)
        XCTAssertEqual(r.delivered, 2)
        XCTAssertEqual(r.moved["l2-output/policed"], 6)
        XCTAssertNil(r.moved["l2-input/policed"])

        // Flooded copies to c2 are counted against it too; the others still get theirs.
        now += 100 * ticksPerByte  // 50 + 100 = 150 bytes: one frame
        let f = g.send(Array(repeating: frame(from: macA, to: 0xFFFF_FFFF_FFFF), count: 4), on: c1)
        XCTAssertEqual(f.out[c2]?.count, 1)
        XCTAssertEqual(f.out[other]?.count, 4)
        XCTAssertEqual(f.counters["l2-output/policed"], 3)
    }

    func testRefillIsExactInSmallSteps() {
        // Bucket of exactly one frame; drain it, then add time 1 tick short
        // of a frame in 7 uneven steps (each probe is dropped): no rounding
        // loss, so the last tick makes it pass.
        l2.policer.set(c1, .egress, rateBitsPerSecond: rate, burstBits: 100 * 8)
        XCTAssertEqual(burst(1).delivered, 1)
        var left = 100 * ticksPerByte - 1
        for step: UInt64 in [1, 999, 13_001, 7, 40_000, 333, 12_345] {
            now += step; left -= step
            XCTAssertEqual(burst(1).delivered, 0)
        }
        now += left
        XCTAssertEqual(burst(1).delivered, 0, "one tick short")
        now += 1
        XCTAssertEqual(burst(1).delivered, 1)
    }

    func testFrameLargerThanTheBurstNeverPasses() {
        l2.policer.set(c1, .egress, rateBitsPerSecond: rate, burstBits: 99 * 8)
        now += 3600 * hz
        let r = burst(2)
        XCTAssertEqual(r.delivered, 0)
        XCTAssertEqual(r.moved["l2-input/policed"], 2)
    }

    func testSpoofedFramesDoNotTakeTokens() {
        l2.sourceGuard.set(c1, mac: macA, ipv4: 0)
        l2.policer.set(c1, .egress, rateBitsPerSecond: rate, burstBits: 100 * 8)
        let spoofed = g.send([frame(from: 0x02_00_00_00_00_66, to: macB)], on: c1)
        XCTAssertEqual(spoofed.counters["l2-input/spoofed-mac"], 1)
        XCTAssertEqual(burst(1).delivered, 1, "the spoofed frame was dropped before the policer")
    }

    func testRateZeroAndDetachRemoveTheLimit() {
        l2.policer.set(c1, .egress, rateBitsPerSecond: rate, burstBits: 100 * 8)
        l2.policer.set(c2, .ingress, rateBitsPerSecond: rate, burstBits: 100 * 8)
        XCTAssertEqual(burst(3).delivered, 1)
        l2.policer.set(c1, .egress, rateBitsPerSecond: 0, burstBits: 0)
        XCTAssertFalse(l2.policer.isPoliced(c1, .egress))
        XCTAssertTrue(l2.policer.isPoliced(c2, .ingress))
        l2.detach(c2, interfaces: g.interfaces)
        XCTAssertFalse(l2.policer.isPoliced(c2, .ingress), "detach clears the policer for the next interface in the slot")
    }

    func testHugeBurstAndRateDoNotOverflow() {
        // Runtimes pass bursts like 2^32-1 bits for "no burst limit"; an absurd one is clamped.
        l2.policer.set(c1, .egress, rateBitsPerSecond: UInt64(Int64.max), burstBits: UInt64(Int64.max))
        now += 10 * 3600 * hz
        XCTAssertEqual(burst(200).delivered, 200)
        l2.policer.set(c1, .egress, rateBitsPerSecond: 1, burstBits: 4_294_967_295)
        XCTAssertEqual(burst(200).delivered, 200)
        XCTAssertEqual(l2.policer.tokenBytes(c1, .egress), 4_294_967_295 / 8 - 200 * 100)
    }

    func testUnpolicedPathIsUnchanged() {
        XCTAssertEqual(burst(256).delivered, 256)
        XCTAssertTrue(burst(1).moved.isEmpty)
    }
}
