import XCTest
import WeftTestSupport
import WeftEngine
@testable import WeftIP4

/// FIB tables as VRFs: created on demand, given back when their last
/// interface goes, longest match for `show fib ADDRESS`, and isolation of
/// the packets of one VRF from another's routes.
final class VRFTableTests: XCTestCase {
    func testTablesAreCreatedOnDemandAndReleasedWhenUnused() throws {
        let ip4 = try IP4Feature(fibTables: 4, groupCapacity: 64, adjacencyCapacity: 256, neighbourCapacity: 256)
        XCTAssertNil(ip4.fib.table(1))
        let t = try ip4.ensureTable(1)
        XCTAssertTrue(try ip4.ensureTable(1) === t, "an existing table is returned, not replaced")
        XCTAssertThrowsError(try ip4.ensureTable(4)) { XCTAssertEqual($0 as? IP4Error, .noSuchTable(4)) }

        try ip4.setAddress(0x0A01_0001, prefixLength: 24, interface: 5, mac: 0x02_00_00_00_00_05, table: 1)
        XCTAssertEqual(ip4.interfaces.fibIndex[5], 1)
        XCTAssertEqual(ip4.fib.lookup(table: 1, 0x0A01_0001), AdjacencyTable.local)
        XCTAssertEqual(ip4.fib.lookup(table: 0, 0x0A01_0001), FIBTable.miss, "vrf 0 does not see vrf 1's address")
        XCTAssertFalse(ip4.releaseTableIfUnused(1), "an interface still uses it")

        ip4.removeAddress(interface: 5)
        XCTAssertTrue(ip4.releaseTableIfUnused(1))
        XCTAssertNil(ip4.fib.table(1))
        XCTAssertEqual(ip4.fib.lookup(table: 1, 0x0A01_0001), FIBTable.miss, "a missing table misses")
        XCTAssertFalse(ip4.releaseTableIfUnused(0), "table 0 always stays")
        XCTAssertFalse(ip4.releaseTableIfUnused(2), "no such table")

        // A table holding a route but no interface is kept.
        let t2 = try ip4.ensureTable(2)
        try t2.add(0x0A02_0000, length: 16, adjacency: AdjacencyTable.drop)
        XCTAssertFalse(ip4.releaseTableIfUnused(2))
    }

    func testLongestMatchReturnsThePrefix() throws {
        let t = try FIBTable(groupCapacity: 16)
        XCTAssertNil(t.longestMatch(0x0A00_0001))
        try t.add(0, length: 0, adjacency: 7)
        try t.add(0x0A00_0000, length: 8, adjacency: 8)
        try t.add(0x0A01_0200, length: 24, adjacency: 9)
        try t.add(0x0A01_0280, length: 25, adjacency: 10)
        XCTAssertEqual(t.longestMatch(0x0A01_0281), FIBRoute(prefix: IPv4Prefix("10.1.2.128/25")!, adjacency: 10))
        XCTAssertEqual(t.longestMatch(0x0A01_0201), FIBRoute(prefix: IPv4Prefix("10.1.2.0/24")!, adjacency: 9))
        XCTAssertEqual(t.longestMatch(0x0A09_0909), FIBRoute(prefix: IPv4Prefix("10.0.0.0/8")!, adjacency: 8))
        XCTAssertEqual(t.longestMatch(0xC000_0201), FIBRoute(prefix: IPv4Prefix("0.0.0.0/0")!, adjacency: 7))
    }
}

extension IP4NodeTests {
    /// pg3 in VRF 1 with the same address as pg1: a packet it receives for
    /// host B (VRF 0) finds no route in VRF 1 and never reaches pg2.
    func testAnotherVRFDoesNotReachVRF0() throws {
        _ = try ip4.ensureTable(1)
        let p3 = g.addInterface("pg3")
        let r3MAC: UInt64 = 0x02_00_00_00_03_01
        try ip4.setAddress(r1, prefixLength: 24, interface: p3, mac: r3MAC, table: 1)
        let frame = Pkt.ether(dst: r3MAC, src: aMAC, udpFromA(to: b))
        let r = send([frame], on: p3)
        XCTAssertNil(r.out[p2], "nothing leaves towards vrf 0's host")
        XCTAssertEqual(r.counters["ip4-lookup/no-route"], 1, "\(r.counters)")
        // The same packet on pg1 (VRF 0) is forwarded.
        let r0 = send([Pkt.ether(dst: r1MAC, src: aMAC, udpFromA(to: b))], on: p1)
        XCTAssertEqual(r0.out[p2]?.count, 1)
    }
}
