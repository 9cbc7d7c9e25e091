import XCTest
import WeftTestSupport
import WeftEngine
import WeftIO
import WeftL2
@testable import WeftIP4

/// Routing between two bridge domains through their bridge-virtual
/// interfaces (the `bvi` node), driven by pg: host A (10.1.0.10) on pg1 in
/// domain 1, host B (10.2.0.20) on pg2 in domain 2; the router is 10.1.0.1 on
/// bvi1 and 10.2.0.1 on bvi2. This is how weftd wires a network's gateway.
final class BVITests: XCTestCase {
    var g: EmbeddedGraph!
    var l2: L2Feature!
    var ip4: IP4Feature!
    var p1: UInt32 = 0, p2: UInt32 = 0, p3: UInt32 = 0, bvi1: UInt32 = 0, bvi2: UInt32 = 0

    let r1MAC: UInt64 = 0x02_FE_FF_00_00_01, r2MAC: UInt64 = 0x02_FE_FF_00_00_02
    let aMAC: UInt64 = 0x02_AA_00_00_00_0A, bMAC: UInt64 = 0x02_BB_00_00_00_14, cMAC: UInt64 = 0x02_CC_00_00_00_0B
    let r1 = Pkt.ip("10.1.0.1"), r2 = Pkt.ip("10.2.0.1")
    let a = Pkt.ip("10.1.0.10"), b = Pkt.ip("10.2.0.20")

    override func setUpWithError() throws {
        let l2 = L2Feature(macTableCapacity: 4096)
        let ip4 = try IP4Feature(fibTables: 2, groupCapacity: 256, adjacencyCapacity: 256, neighbourCapacity: 256)
        self.l2 = l2; self.ip4 = ip4
        g = try EmbeddedGraph { l2.register(in: $0); ip4.register(in: $0); $0.register(BVINode(ip4: ip4)) }
        g.pgOutput.captureEnabled = true
        let bviNode = g.graph.nodeIndex(named: "bvi")!
        l2.domains.create(id: 1, learnLimit: 100, macAgeSeconds: 300)
        l2.domains.create(id: 2, learnLimit: 100, macAgeSeconds: 300)
        p1 = g.addInterface("pg1"); p2 = g.addInterface("pg2"); p3 = g.addInterface("pg3")
        XCTAssertTrue(l2.attach(p1, to: 1, interfaces: g.interfaces))
        XCTAssertTrue(l2.attach(p3, to: 1, interfaces: g.interfaces))
        XCTAssertTrue(l2.attach(p2, to: 2, interfaces: g.interfaces))
        bvi1 = g.interfaces.add(name: "bvi1", driver: "bvi", mac: Pkt.mac(r1MAC), mtu: 1500, outputNode: bviNode, driverInstance: -1)!
        bvi2 = g.interfaces.add(name: "bvi2", driver: "bvi", mac: Pkt.mac(r2MAC), mtu: 1500, outputNode: bviNode, driverInstance: -1)!
        XCTAssertTrue(l2.attach(bvi1, to: 1, interfaces: g.interfaces))
        XCTAssertTrue(l2.attach(bvi2, to: 2, interfaces: g.interfaces))
        try ip4.setAddress(r1, prefixLength: 24, interface: bvi1, mac: r1MAC)
        try ip4.setAddress(r2, prefixLength: 24, interface: bvi2, mac: r2MAC)
    }

    override func tearDown() {
        g.run()
        XCTAssertEqual(g.graph.framesInUse, 0)
        XCTAssertEqual(g.buffersInFlight, 0, "no buffer leaked")
    }

    func send(_ frames: [[UInt8]], on rx: UInt32) -> [UInt32: [[UInt8]]] {
        g.pgOutput.clearCapture()
        g.inject(frames, on: rx)
        g.run()
        return g.pgOutput.captured
    }

    func arpRequest(from mac: UInt64, _ spa: UInt32, for tpa: UInt32) -> [UInt8] {
        Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: mac, type: 0x0806, Pkt.arp(op: 1, sha: mac, spa: spa, tha: 0, tpa: tpa))
    }

    func testARPForTheGatewayIsAnsweredThroughTheBridgeDomainAndStillFlooded() {
        let out = send([arpRequest(from: aMAC, a, for: r1)], on: p1)
        // The broadcast reaches the other port of domain 1 unchanged, and the BVI answers.
        XCTAssertEqual(out[p3], [arpRequest(from: aMAC, a, for: r1)])
        let reply = Pkt.ether(dst: aMAC, src: r1MAC, type: 0x0806, Pkt.arp(op: 2, sha: r1MAC, spa: r1, tha: aMAC, tpa: a))
        XCTAssertEqual(out[p1], [reply])
        XCTAssertNil(out[p2], "nothing leaks into domain 2")
        XCTAssertEqual(ip4.neighbour(a, interface: bvi1)?.mac, aMAC, "the asker is learned on the BVI")
        XCTAssertEqual(l2.macTable.lookup(domain: 1, mac: r1MAC), bvi1, "the router's MAC is learned on the BVI")
    }

    func testRoutesBetweenDomainsResolvingTheNextHopThroughTheBridge() {
        _ = send([arpRequest(from: aMAC, a, for: r1)], on: p1)
        let ip = Pkt.ipv4(src: a, dst: b, ttl: 64, payload: Pkt.udp([1, 2, 3, 4]))
        // B is unknown: the packet is dropped, an ARP request floods domain 2.
        var out = send([Pkt.ether(dst: r1MAC, src: aMAC, ip)], on: p1)
        XCTAssertEqual(out[p2], [Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: r2MAC, type: 0x0806,
                                           Pkt.arp(op: 1, sha: r2MAC, spa: r2, tha: 0, tpa: b))])
        // B answers to the router's MAC: l2-fwd delivers it to the BVI, arp-input learns B.
        out = send([Pkt.ether(dst: r2MAC, src: bMAC, type: 0x0806, Pkt.arp(op: 2, sha: bMAC, spa: b, tha: r2MAC, tpa: r2))], on: p2)
        XCTAssertEqual(out, [:])
        XCTAssertEqual(ip4.neighbour(b, interface: bvi2)?.mac, bMAC)
        // Now forwarded: L2 header rewritten, TTL 63, out of pg2 only.
        out = send([Pkt.ether(dst: r1MAC, src: aMAC, ip)], on: p1)
        XCTAssertEqual(out[p2], [Pkt.ether(dst: bMAC, src: r2MAC, Pkt.forwarded(ip))])
        XCTAssertEqual(out[p2]?.first?[14 + 8], 63)
        XCTAssertNil(out[p1]); XCTAssertNil(out[p3])
    }

    func testPingToTheGatewayIsAnswered() {
        _ = send([arpRequest(from: aMAC, a, for: r1)], on: p1)
        let echo = Pkt.ipv4(src: a, dst: r1, proto: 1, ttl: 64, payload: Pkt.icmp(type: 8, rest: 0x0001_0001, [9, 9, 9, 9]))
        let out = send([Pkt.ether(dst: r1MAC, src: aMAC, echo)], on: p1)
        XCTAssertEqual(out[p1]?.count, 1)
        let reply = out[p1]![0]
        XCTAssertEqual(Array(reply[0..<12]), Pkt.mac(aMAC) + Pkt.mac(r1MAC))
        XCTAssertEqual(reply[14 + 9], 1, "ICMP")
        XCTAssertEqual(reply[14 + 20], 0, "echo reply")
        XCTAssertNil(out[p3], "the reply is unicast to A, not flooded")
        // The BVI counts what the router received on it (ARP request, echo) and sent (ARP reply, echo reply).
        XCTAssertEqual(g.interfaces.rxPackets[Int(bvi1)], 2)
        XCTAssertEqual(g.interfaces.txPackets[Int(bvi1)], 2)
        XCTAssertGreaterThan(g.interfaces.rxBytes[Int(bvi1)], 0)
    }

    func testBridgingInsideADomainIsUnchanged() {
        // A and C learn each other; a frame between them never reaches the BVI.
        _ = send([Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: cMAC, type: 0x88B5, [0, 1])], on: p3)
        let frame = Pkt.ether(dst: cMAC, src: aMAC, type: 0x88B5, [UInt8](repeating: 7, count: 50))
        let out = send([frame], on: p1)
        XCTAssertEqual(out, [p3: [frame]])
    }
}
