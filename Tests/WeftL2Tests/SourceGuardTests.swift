import XCTest
import WeftEngine
import WeftIO
import WeftPacket
import WeftTestSupport
@testable import WeftL2

/// Anti-spoofing in l2-input: a guarded interface (a container's) sends only
/// from its own MAC and, in IPv4 and ARP, its own address.
final class SourceGuardTests: XCTestCase {
    var g: EmbeddedGraph!
    var l2: L2Feature!
    var guarded: UInt32 = 0, open: UInt32 = 0, other: UInt32 = 0
    let macA: UInt64 = 0x02_FE_0A_01_00_02, macB: UInt64 = 0x02_FE_0A_01_00_03, macX: UInt64 = 0x02_00_00_00_00_66
    let ipA = Pkt.ip("10.1.0.2"), ipB = Pkt.ip("10.1.0.3")

    override func setUpWithError() throws {
        let l2 = L2Feature(macTableCapacity: 1024)
        self.l2 = l2
        g = try EmbeddedGraph { l2.register(in: $0) }
        g.pgOutput.captureEnabled = true
        l2.domains.create(id: 1, learnLimit: 100, macAgeSeconds: 300)
        guarded = g.addInterface("c1"); open = g.addInterface("uplink"); other = g.addInterface("c2")
        for p in [guarded, open, other] { XCTAssertTrue(l2.attach(p, to: 1, interfaces: g.interfaces)) }
        l2.sourceGuard.set(guarded, mac: macA, ipv4: ipA)
    }

    override func tearDown() {
        g.run()
        XCTAssertEqual(g.buffersInFlight, 0)
    }

    func ipFrame(src: UInt64, ip: UInt32) -> [UInt8] {
        Pkt.ether(dst: macB, src: src, Pkt.udpPacket(src: ip, dst: ipB, sport: 1, dport: 2))
    }

    func arp(sha: UInt64, spa: UInt32, src: UInt64? = nil) -> [UInt8] {
        Pkt.padded(Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: src ?? sha, type: 0x0806, Pkt.arp(op: 1, sha: sha, spa: spa, tha: 0, tpa: ipB)))
    }

    /// Sends one frame on `rx`; returns the counters that moved and whether it reached c2.
    func send(_ frame: [UInt8], on rx: UInt32) -> (delivered: Bool, moved: [String: UInt64]) {
        let r = g.send([frame], on: rx)
        return (r.out[other] != nil, r.counters)
    }

    func testOwnMACAndAddressPass() {
        XCTAssertTrue(send(ipFrame(src: macA, ip: ipA), on: guarded).delivered)
        XCTAssertTrue(send(arp(sha: macA, spa: ipA), on: guarded).delivered)
        XCTAssertTrue(send(arp(sha: macA, spa: 0), on: guarded).delivered, "ARP probe (RFC 5227) from 0.0.0.0")
        XCTAssertTrue(send(ipFrame(src: macA, ip: 0), on: guarded).delivered, "DHCP-style source 0.0.0.0")
    }

    func testEachSpoofIsDroppedUnderItsOwnCounter() {
        let cases: [([UInt8], String)] = [
            (ipFrame(src: macX, ip: ipA), "l2-input/spoofed-mac"),
            (ipFrame(src: macA, ip: Pkt.ip("10.1.0.99")), "l2-input/spoofed-ip4"),
            (arp(sha: macA, spa: Pkt.ip("10.1.0.1")), "l2-input/spoofed-arp"),
            (arp(sha: macX, spa: ipA, src: macA), "l2-input/spoofed-arp"),
            (Pkt.padded(LVLAN.tagged(dst: macB, src: macA)), "l2-input/guarded-vlan"),
        ]
        for (frame, counter) in cases {
            let r = send(frame, on: guarded)
            XCTAssertFalse(r.delivered, counter)
            XCTAssertEqual(r.moved[counter], 1, "\(counter): \(r.moved)")
        }
        XCTAssertEqual(l2.macTable.entries(domain: 1).filter { $0.mac == macX }.count, 0, "a spoofed MAC is never learned")
    }

    /// Issue 18.6: a frame whose addresses cannot be read is malformed, not
    /// spoofed (it used to count as spoofed-ip4 / spoofed-arp).
    func testUnreadableFramesAreMalformedNotSpoofed() {
        var hlen8 = arp(sha: macA, spa: ipA)
        hlen8[18] = 8                                    // hardware address length 8
        var ptype6 = arp(sha: macA, spa: ipA)
        ptype6[16] = 0x86; ptype6[17] = 0xDD             // protocol type IPv6
        let cases: [([UInt8], String)] = [
            (Pkt.ether(dst: macB, src: macA, []), "l2-input/guard-malformed-ip4"),               // 14 bytes, IPv4 ethertype
            (Array(ipFrame(src: macA, ip: ipA).prefix(30)), "l2-input/guard-malformed-ip4"),
            (hlen8, "l2-input/guard-malformed-arp"),
            (ptype6, "l2-input/guard-malformed-arp"),
            (Array(arp(sha: macA, spa: ipA).prefix(14 + 20)), "l2-input/guard-malformed-arp"),
        ]
        for (frame, counter) in cases {
            let r = send(frame, on: guarded)
            XCTAssertFalse(r.delivered, counter)
            XCTAssertEqual(r.moved, [counter: 1], counter)
        }
    }

    /// A foreign source MAC flags the interface for the control plane (which
    /// then looks whether the container changed its MAC); nothing else does.
    func testForeignMACFlagsTheInterfaceOnce() {
        XCTAssertEqual(l2.sourceGuard.takeMACMisses(), [])
        _ = send(ipFrame(src: macA, ip: Pkt.ip("10.1.0.99")), on: guarded)
        XCTAssertEqual(l2.sourceGuard.takeMACMisses(), [], "a wrong address is not a MAC change")
        _ = send(ipFrame(src: macX, ip: ipA), on: guarded)
        _ = send(ipFrame(src: macX, ip: ipA), on: guarded)
        XCTAssertEqual(l2.sourceGuard.takeMACMisses(), [guarded])
        XCTAssertEqual(l2.sourceGuard.takeMACMisses(), [], "taking clears")
        _ = send(ipFrame(src: macX, ip: Pkt.ip("192.0.2.9")), on: open)
        XCTAssertEqual(l2.sourceGuard.takeMACMisses(), [], "unguarded interfaces never flag")
    }

    func testUnguardedInterfacesAndClearedGuardsCarryAnything() {
        XCTAssertTrue(send(ipFrame(src: macX, ip: Pkt.ip("192.0.2.9")), on: open).delivered)
        l2.detach(guarded, interfaces: g.interfaces)
        XCTAssertFalse(l2.sourceGuard.isGuarded(guarded), "detach clears the guard for the next interface in the slot")
    }
}

/// A frame with an 802.1Q tag (VLAN 5) around IPv4.
enum LVLAN {
    static func tagged(dst: UInt64, src: UInt64) -> [UInt8] {
        MACAddress.bytes(dst) + MACAddress.bytes(src) + [0x81, 0x00, 0x00, 0x05, 0x08, 0x00] + [UInt8](repeating: 0x45, count: 40)
    }
}
