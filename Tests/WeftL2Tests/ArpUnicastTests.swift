import XCTest
import WeftEngine
import WeftIO
import WeftPacket
import WeftTestSupport
@testable import WeftL2

/// l2-fwd sends a broadcast ARP request for a known owner's address to that
/// interface alone; everything else ARP still floods.
final class ArpUnicastTests: XCTestCase {
    var g: EmbeddedGraph!
    var l2: L2Feature!
    var c1: UInt32 = 0, c2: UInt32 = 0, c3: UInt32 = 0, uplink: UInt32 = 0, elsewhere: UInt32 = 0
    let mac1: UInt64 = 0x02_FE_0A_01_00_02, mac2: UInt64 = 0x02_FE_0A_01_00_03, mac3: UInt64 = 0x02_FE_0A_01_00_04
    let ip1 = Pkt.ip("10.1.0.2"), ip2 = Pkt.ip("10.1.0.3"), ip3 = Pkt.ip("10.1.0.4")

    override func setUpWithError() throws {
        let l2 = L2Feature(macTableCapacity: 1024)
        self.l2 = l2
        g = try EmbeddedGraph { l2.register(in: $0) }
        g.pgOutput.captureEnabled = true
        l2.domains.create(id: 1, learnLimit: 100, macAgeSeconds: 300)
        l2.domains.create(id: 2, learnLimit: 100, macAgeSeconds: 300)
        c1 = g.addInterface("c1"); c2 = g.addInterface("c2"); c3 = g.addInterface("c3"); uplink = g.addInterface("uplink")
        elsewhere = g.addInterface("other-network")
        for p in [c1, c2, c3, uplink] { XCTAssertTrue(l2.attach(p, to: 1, interfaces: g.interfaces)) }
        XCTAssertTrue(l2.attach(elsewhere, to: 2, interfaces: g.interfaces))
        for (p, mac, ip) in [(c1, mac1, ip1), (c2, mac2, ip2), (c3, mac3, ip3)] {
            l2.guardSource(p, mac: mac, ipv4: ip, interfaces: g.interfaces)
        }
        // The same address in another network belongs to that network's pod.
        l2.guardSource(elsewhere, mac: 0x02_FE_0A_02_00_03, ipv4: ip2, interfaces: g.interfaces)
    }

    override func tearDown() {
        g.run()
        XCTAssertEqual(g.buffersInFlight, 0)
    }

    func arp(op: UInt16 = 1, from mac: UInt64, spa: UInt32, tpa: UInt32, dst: UInt64 = 0xFFFF_FFFF_FFFF) -> [UInt8] {
        Pkt.padded(Pkt.ether(dst: dst, src: mac, type: 0x0806, Pkt.arp(op: op, sha: mac, spa: spa, tha: 0, tpa: tpa)))
    }

    func testRequestForAKnownAddressGoesToItsOwnerOnlyAndUnchanged() {
        let frame = arp(from: mac1, spa: ip1, tpa: ip2)
        let r = g.send([frame], on: c1)
        XCTAssertEqual(Set(r.out.keys), [c2])
        XCTAssertEqual(r.out[c2], [frame], "still the broadcast request: the owner answers it itself")
        XCTAssertEqual(r.counters["l2-fwd/arp-unicast"], 1)
    }

    func testUnknownGratuitousProbesAndRepliesStillFlood() {
        let cases: [(String, [UInt8], UInt32)] = [
            ("no owner", arp(from: mac1, spa: ip1, tpa: Pkt.ip("10.1.0.99")), c1),
            ("gratuitous (sender = target)", arp(from: mac2, spa: ip2, tpa: ip2), c2),
            ("RFC 5227 probe by the owner", arp(from: mac2, spa: 0, tpa: ip2), c2),
            ("broadcast reply", arp(op: 2, from: mac1, spa: ip1, tpa: ip2), c1),
        ]
        for (what, frame, rx) in cases {
            let r = g.send([frame], on: rx)
            XCTAssertEqual(Set(r.out.keys), Set([c1, c2, c3, uplink]).subtracting([rx]), what)
            XCTAssertNil(r.counters["l2-fwd/arp-unicast"], what)
        }
    }

    func testVLANTaggedRequestsFlood() {
        // VLAN 10 behind the uplink is another broadcast domain: its 10.1.0.4 is not c3's.
        let body = Pkt.arp(op: 1, sha: 0x02_00_00_00_00_77, spa: Pkt.ip("10.1.0.77"), tha: 0, tpa: ip3)
        let frame = Pkt.padded(Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: 0x02_00_00_00_00_77, type: 0x8100, [0x00, 0x0A, 0x08, 0x06] + body))
        let r = g.send([frame], on: uplink)
        XCTAssertEqual(Set(r.out.keys), [c1, c2, c3])
        XCTAssertNil(r.counters["l2-fwd/arp-unicast"])
    }

    func testAProbeForAnOwnedAddressFromElsewhereReachesTheOwner() {
        // Address conflict detection by a host behind the uplink: the owner must hear it.
        let r = g.send([arp(from: 0x02_00_00_00_00_77, spa: 0, tpa: ip3)], on: uplink)
        XCTAssertEqual(Set(r.out.keys), [c3])
    }

    func testOwnersAreKeptPerBridgeDomainAndForgottenOnDetach() {
        let r = g.send([arp(from: 0x02_FE_0A_02_00_09, spa: Pkt.ip("10.1.0.9"), tpa: ip2)], on: elsewhere)
        XCTAssertTrue(r.out.isEmpty, "domain 2's owner of 10.1.0.3 is the sender's own port: nothing else there")
        l2.detach(c2, interfaces: g.interfaces)
        let after = g.send([arp(from: mac1, spa: ip1, tpa: ip2)], on: c1)
        XCTAssertEqual(Set(after.out.keys), [c3, uplink], "flooded once the owner left")
        XCTAssertEqual(l2.arpTargets.find(domain: 2, address: ip2), elsewhere)
    }

    func testTableAgainstADictionary() {
        let table = ArpTargetTable()
        var reference: [UInt64: UInt32] = [:]
        var rng = SystemRandomNumberGenerator()
        for i in 0..<3000 {
            let domain = UInt32.random(in: 1...4, using: &rng), address = UInt32.random(in: 1...5000, using: &rng)
            let interface = UInt32(i % 400)
            XCTAssertTrue(table.set(domain: domain, address: address, interface: interface))
            reference[UInt64(domain) << 32 | UInt64(address)] = interface
            if i % 50 == 0 {
                let gone = UInt32.random(in: 0..<400, using: &rng)
                table.removeAll(interface: gone)
                reference = reference.filter { $0.value != gone }
            }
        }
        XCTAssertEqual(table.count, reference.count)
        for (k, v) in reference { XCTAssertEqual(table.find(domain: UInt32(k >> 32), address: UInt32(truncatingIfNeeded: k)), v) }
        XCTAssertNil(table.find(domain: 9, address: 1))
        XCTAssertFalse(table.set(domain: 1, address: 0, interface: 1), "address 0 is the empty key")
    }
}
