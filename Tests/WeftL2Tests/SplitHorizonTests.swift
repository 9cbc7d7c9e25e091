import XCTest
import WeftEngine
import WeftIO
import WeftPacket
@testable import WeftL2

/// Split-horizon groups (VXLAN tunnels are group 1) and static MAC entries,
/// with plain pg ports standing in for tunnels.
final class SplitHorizonTests: XCTestCase {
    var g: EmbeddedGraph!
    var l2: L2Feature!
    var local: UInt32 = 0, t1: UInt32 = 0, t2: UInt32 = 0

    let macA: UInt64 = 0x02_00_00_00_00_0A, macB: UInt64 = 0x02_00_00_00_00_0B, macC: UInt64 = 0x02_00_00_00_00_0C

    override func setUpWithError() throws {
        let l2 = L2Feature(macTableCapacity: 4096)
        self.l2 = l2
        g = try EmbeddedGraph { l2.register(in: $0) }
        g.pgOutput.captureEnabled = true
        l2.domains.create(id: 1, learnLimit: 1000, macAgeSeconds: 300)
        local = g.addInterface("pg1"); t1 = g.addInterface("tun1"); t2 = g.addInterface("tun2")
        for p in [local, t1, t2] { XCTAssertTrue(l2.attach(p, to: 1, interfaces: g.interfaces)) }
        g.interfaces.splitHorizonGroup[Int(t1)] = 1
        g.interfaces.splitHorizonGroup[Int(t2)] = 1
    }

    override func tearDown() {
        g.run()
        XCTAssertEqual(g.buffersInFlight, 0, "no buffer leaked")
    }

    func send(_ f: [UInt8], on rx: UInt32) -> [UInt32: [[UInt8]]] {
        g.pgOutput.clearCapture()
        g.inject([f], on: rx)
        g.run()
        return g.pgOutput.captured
    }

    func testFloodFromALocalPortReachesEveryGroupMember() {
        let f = L2NodeTests.frame(dst: 0xFFFF_FFFF_FFFF, src: macA)
        let out = send(f, on: local)
        XCTAssertEqual(out[t1], [f])
        XCTAssertEqual(out[t2], [f])
        XCTAssertNil(out[local])
    }

    func testFloodFromAGroupMemberReachesNonMembersOnly() {
        let f = L2NodeTests.frame(dst: 0xFFFF_FFFF_FFFF, src: macB)
        let out = send(f, on: t1)
        XCTAssertEqual(out[local], [f])
        XCTAssertNil(out[t2], "never from one tunnel to another")
        XCTAssertNil(out[t1])
        // Unknown unicast floods the same way.
        let u = L2NodeTests.frame(dst: 0x02_00_00_00_00_99, src: macB)
        XCTAssertEqual(send(u, on: t1).keys.sorted(), [local])
    }

    func testFloodWithOnlyGroupMembersLeftIsCountedNoMembers() {
        l2.detach(local, interfaces: g.interfaces)
        _ = send(L2NodeTests.frame(dst: 0xFFFF_FFFF_FFFF, src: macB), on: t1)
        XCTAssertEqual(g.graph.errorCount(node: "l2-flood", error: "no-members"), 1)
    }

    func testKnownUnicastWithinAGroupIsDroppedUnderSplitHorizon() {
        _ = send(L2NodeTests.frame(dst: 0xFFFF_FFFF_FFFF, src: macC), on: t2)    // C learned on tun2
        _ = send(L2NodeTests.frame(dst: 0xFFFF_FFFF_FFFF, src: macA), on: local)  // A learned on pg1
        let out = send(L2NodeTests.frame(dst: macC, src: macB), on: t1)
        XCTAssertTrue(out.isEmpty)
        XCTAssertEqual(g.graph.errorCount(node: "l2-fwd", error: "split-horizon"), 1)
        // Between a group member and a non-member, unicast flows both ways.
        let toA = L2NodeTests.frame(dst: macA, src: macB)
        XCTAssertEqual(send(toA, on: t1), [local: [toA]])
        let toC = L2NodeTests.frame(dst: macC, src: macA)
        XCTAssertEqual(send(toC, on: local), [t2: [toC]])
        XCTAssertEqual(g.graph.errorCount(node: "l2-fwd", error: "split-horizon"), 1)
    }

    func testInterfaceRemovalResetsTheGroup() {
        g.interfaces.remove(t2)
        XCTAssertEqual(g.interfaces.splitHorizonGroup[Int(t2)], 0)
        let again = g.addInterface("tun2-again")
        XCTAssertEqual(g.interfaces.splitHorizonGroup[Int(again)], 0)
    }

    func testStaticMACIsNotMovedAndTheFrameIsForwarded() {
        XCTAssertTrue(l2.macTable.addStatic(domain: 1, mac: macA, interface: local))
        let f = L2NodeTests.frame(dst: 0xFFFF_FFFF_FFFF, src: macA)
        let out = send(f, on: t1)
        XCTAssertEqual(out[local], [f], "forwarded")
        XCTAssertEqual(l2.macTable.lookup(domain: 1, mac: macA), local, "not moved")
        XCTAssertEqual(g.graph.errorCount(node: "l2-learn", error: "static-mac-move"), 1)
        XCTAssertEqual(g.graph.errorCount(node: "l2-learn", error: "moved"), 0)
    }
}
