import XCTest
import WeftTestSupport
import WeftEngine
import WeftIO
import WeftL2
@testable import WeftIP4

/// A full neighbour table (issue 9, exhaustion): packets to next hops it has
/// no room for are dropped as unresolved under `ip4-arp/neighbour-table-full`,
/// no request goes out for them, and traffic to known neighbours keeps flowing.
final class NeighbourExhaustionTests: XCTestCase {
    func testFullNeighbourTableRefusesNewNextHopsAndKeepsForwarding() throws {
        let l2 = L2Feature(macTableCapacity: 1024)
        // 16 slots (the table's minimum), at most 14 used: the three static neighbours below leave room for 11.
        let ip4 = try IP4Feature(fibTables: 1, groupCapacity: 64, adjacencyCapacity: 64, neighbourCapacity: 16)
        let g = try EmbeddedGraph { l2.register(in: $0); ip4.register(in: $0) }
        g.pgOutput.captureEnabled = true
        let p1 = g.addInterface("pg1"), p2 = g.addInterface("pg2")
        let r1MAC: UInt64 = 0x02_00_00_00_01_01, r2MAC: UInt64 = 0x02_00_00_00_02_01
        let aMAC: UInt64 = 0x02_AA_00_00_00_0A, bMAC: UInt64 = 0x02_BB_00_00_00_14
        let a = Pkt.ip("10.0.1.10"), b = Pkt.ip("10.0.2.20")
        try ip4.setAddress(Pkt.ip("10.0.1.1"), prefixLength: 24, interface: p1, mac: r1MAC)
        try ip4.setAddress(Pkt.ip("10.0.2.1"), prefixLength: 24, interface: p2, mac: r2MAC)
        try ip4.addNeighbour(a, mac: aMAC, interface: p1)
        try ip4.addNeighbour(b, mac: bMAC, interface: p2)
        try ip4.addNeighbour(Pkt.ip("10.0.2.254"), mac: 0x02_CC_00_00_00_FE, interface: p2)

        // 20 packets to 20 different unknown hosts on pg2.
        let frames = (0..<20).map { i in
            Pkt.ether(dst: r1MAC, src: aMAC, Pkt.ipv4(src: a, dst: Pkt.ip("10.0.2.\(100 + i)"), id: UInt16(i), payload: Pkt.udp([1])))
        }
        let r = g.send(frames, on: p1)
        let sent = r.counters["ip4-arp/requests-sent", default: 0], full = r.counters["ip4-arp/neighbour-table-full", default: 0]
        XCTAssertEqual(r.counters["ip4-arp/unresolved"], 20, "\(r.counters)")
        XCTAssertGreaterThan(full, 0, "the table never filled: \(r.counters)")
        XCTAssertEqual(sent + full, 20, "each new next hop is either resolved or refused: \(r.counters)")
        XCTAssertEqual(r.out[p2]?.count ?? 0, Int(sent), "one ARP request per next hop that got an entry, none for the others")

        // A known neighbour still gets its traffic, byte-exact.
        let ip = Pkt.ipv4(src: a, dst: b, payload: Pkt.udp([7, 7]))
        let known = g.send([Pkt.ether(dst: r1MAC, src: aMAC, ip)], on: p1)
        XCTAssertEqual(known.out[p2], [Pkt.ether(dst: bMAC, src: r2MAC, Pkt.forwarded(ip))])
        g.run()
        XCTAssertEqual(g.buffersInFlight, 0)
    }
}
