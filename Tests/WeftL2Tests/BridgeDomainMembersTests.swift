import XCTest
import WeftEngine
import WeftIO
import WeftPacket
@testable import WeftL2

/// Bridge domains with thousands of members (issue 20): no fixed limit below
/// the interface table, O(1) add and remove (every interface knows its slot),
/// and flooding, split horizon and learning unchanged at 4,000 members.
final class BridgeDomainMembersTests: XCTestCase {
    func testFourThousandMembersAddRemoveAndMoveKeepEveryListExact() {
        let t = BridgeDomainTable()
        t.create(id: 1, learnLimit: 0, macAgeSeconds: 0)
        t.create(id: 2, learnLimit: 0, macAgeSeconds: 0)
        var expected = Set<UInt32>()
        for x in UInt32(1)...4000 { XCTAssertTrue(t.addMember(x, to: 1)); expected.insert(x) }
        XCTAssertEqual(t.memberCount[1], 4000)
        XCTAssertEqual(Set(t.memberList(1)), expected)
        XCTAssertTrue(t.addMember(17, to: 1), "adding a member again changes nothing")
        XCTAssertEqual(t.memberCount[1], 4000)
        // Remove every third in a scrambled order; the rest stay, each once.
        var rng = SystemRandomNumberGenerator()
        for x in expected.filter({ $0 % 3 == 0 }).shuffled(using: &rng) { t.removeMember(x, from: 1); expected.remove(x) }
        XCTAssertEqual(t.memberList(1).count, expected.count)
        XCTAssertEqual(Set(t.memberList(1)), expected)
        t.removeMember(3, from: 1)   // not a member any more: nothing happens
        t.removeMember(1, from: 2)   // a member of another domain: nothing happens
        XCTAssertEqual(Set(t.memberList(1)), expected)
        // Moving an interface to another domain takes it out of the first.
        XCTAssertTrue(t.addMember(1, to: 2))
        expected.remove(1)
        XCTAssertEqual(Set(t.memberList(1)), expected)
        XCTAssertEqual(t.memberList(2), [1])
        // Deleting a domain frees its members for another.
        t.delete(id: 1)
        XCTAssertEqual(t.memberList(1), [])
        t.create(id: 1, learnLimit: 0, macAgeSeconds: 0)
        XCTAssertTrue(t.addMember(2, to: 1))
        XCTAssertEqual(t.memberList(1), [2])
    }

    func testBroadcastReachesFourThousandMembersAndSplitHorizonStillHolds() throws {
        let l2 = L2Feature(macTableCapacity: 16_384)
        let g = try EmbeddedGraph(buffers: 16_384) { l2.register(in: $0) }
        g.pgOutput.captureEnabled = true
        l2.domains.create(id: 1, learnLimit: 10_000, macAgeSeconds: 300)
        var ports: [UInt32] = []
        for k in 0..<4000 {
            let p = g.addInterface("p\(k)")
            XCTAssertTrue(l2.attach(p, to: 1, interfaces: g.interfaces))
            ports.append(p)
        }
        // The last two are "tunnels" in split-horizon group 1.
        g.interfaces.splitHorizonGroup[Int(ports[3998])] = 1
        g.interfaces.splitHorizonGroup[Int(ports[3999])] = 1
        let macA: UInt64 = 0x02_00_00_00_00_0A
        let f = L2NodeTests.frame(dst: 0xFFFF_FFFF_FFFF, src: macA)
        g.inject([f], on: ports[0])
        g.run()
        let out = g.pgOutput.captured
        XCTAssertEqual(out.count, 3999, "every member but the sender")
        XCTAssertTrue(out.values.allSatisfy { $0 == [f] })
        XCTAssertNil(out[ports[0]])
        // Learned on the sender's port: unicast back to it reaches only it.
        g.pgOutput.clearCapture()
        g.inject([L2NodeTests.frame(dst: macA, src: 0x02_00_00_00_00_0B)], on: ports[2000])
        g.run()
        XCTAssertEqual(Array(g.pgOutput.captured.keys), [ports[0]])
        // From a tunnel: the other tunnel is skipped.
        g.pgOutput.clearCapture()
        g.inject([L2NodeTests.frame(dst: 0xFFFF_FFFF_FFFF, src: 0x02_00_00_00_00_0C)], on: ports[3998])
        g.run()
        XCTAssertEqual(g.pgOutput.captured.count, 3998)
        XCTAssertNil(g.pgOutput.captured[ports[3999]])
        // Detach them all: the domain is empty, nothing leaked.
        for p in ports { l2.detach(p, interfaces: g.interfaces) }
        XCTAssertEqual(l2.domains.memberCount[1], 0)
        g.run()
        XCTAssertEqual(g.buffersInFlight, 0)
    }
}
