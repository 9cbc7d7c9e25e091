import XCTest
import WeftTestSupport
import WeftEngine
import WeftIO
import WeftL2
@testable import WeftIP4

/// The IPv4 path driven by pg: frames in on pg interfaces, byte-exact frames
/// out per interface, every drop under its named counter.
///
/// Topology: the router has pg1 = 10.0.1.1/24 and pg2 = 10.0.2.1/24.
/// Host A (10.0.1.10) is on pg1, host B (10.0.2.20) and gateway G
/// (10.0.2.254, next hop of 198.51.100.0/24) on pg2.
final class IP4NodeTests: XCTestCase {
    var g: EmbeddedGraph!
    var l2: L2Feature!
    var ip4: IP4Feature!
    var p1: UInt32 = 0, p2: UInt32 = 0

    let r1MAC: UInt64 = 0x02_00_00_00_01_01, r2MAC: UInt64 = 0x02_00_00_00_02_01
    let aMAC: UInt64 = 0x02_AA_00_00_00_0A, bMAC: UInt64 = 0x02_BB_00_00_00_14, gMAC: UInt64 = 0x02_CC_00_00_00_FE
    let r1 = Pkt.ip("10.0.1.1"), r2 = Pkt.ip("10.0.2.1")
    let a = Pkt.ip("10.0.1.10"), b = Pkt.ip("10.0.2.20"), gw = Pkt.ip("10.0.2.254")
    let remote = Pkt.ip("198.51.100.7")

    override func setUpWithError() throws {
        try build(mtu2: 1500)
    }

    func build(mtu2: Int) throws {
        let l2 = L2Feature(macTableCapacity: 4096)
        let ip4 = try IP4Feature(fibTables: 4, groupCapacity: 1024, adjacencyCapacity: 1024, neighbourCapacity: 1024)
        self.l2 = l2; self.ip4 = ip4
        g = try EmbeddedGraph { l2.register(in: $0); ip4.register(in: $0) }
        g.pgOutput.captureEnabled = true
        p1 = g.addInterface("pg1"); p2 = g.addInterface("pg2", mtu: mtu2)
        try ip4.setAddress(r1, prefixLength: 24, interface: p1, mac: r1MAC)
        try ip4.setAddress(r2, prefixLength: 24, interface: p2, mac: r2MAC)
        try ip4.addNeighbour(a, mac: aMAC, interface: p1)
        try ip4.addNeighbour(b, mac: bMAC, interface: p2)
        try ip4.addNeighbour(gw, mac: gMAC, interface: p2)
        try ip4.addRoute(IPv4Prefix("198.51.100.0/24")!, via: gw, interface: p2)
    }

    override func tearDown() {
        g.run()
        XCTAssertEqual(g.graph.framesInUse, 0)
        XCTAssertEqual(g.buffersInFlight, 0, "no buffer leaked")
    }

    // MARK: helpers

    func counters() -> [String: UInt64] { g.counters() }

    func delta(_ before: [String: UInt64]) -> [String: UInt64] { g.counterDelta(since: before) }

    func send(_ frames: [[UInt8]], on rx: UInt32) -> (out: [UInt32: [[UInt8]]], counters: [String: UInt64]) { g.send(frames, on: rx) }

    func udpFromA(to dst: UInt32, ttl: UInt8 = 64, payload: Int = 18, flags: UInt16 = 0) -> [UInt8] {
        Pkt.ipv4(src: a, dst: dst, ttl: ttl, flags: flags, payload: Pkt.udp((0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 13) }))
    }

    // MARK: forwarding

    func testForwardsToAConnectedHostByteExact() {
        let ip = udpFromA(to: b, payload: 100)
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, ip)], on: p1)
        let expected = Pkt.ether(dst: bMAC, src: r2MAC, Pkt.forwarded(ip))
        XCTAssertEqual(r.out[p2], [expected])
        XCTAssertNil(r.out[p1])
        let out = r.out[p2]![0]
        XCTAssertEqual(out[14 + 8], 63, "TTL decremented")
        XCTAssertTrue(Pkt.headerValid(out[14...]), "checksum updated")
        XCTAssertEqual(r.counters, [:], "no counter moves on the forwarding path")
    }

    func testForwardsThroughARouteNextHopByteExact() {
        let ip = udpFromA(to: remote, ttl: 2, payload: 30)
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, ip)], on: p1)
        XCTAssertEqual(r.out[p2], [Pkt.ether(dst: gMAC, src: r2MAC, Pkt.forwarded(ip))])
        XCTAssertEqual(r.out[p2]?.first?[14 + 8], 1)
        XCTAssertTrue(Pkt.headerValid(r.out[p2]![0][14...]))
    }

    func testIncrementalChecksumMatchesRecomputationForManyHeaders() {
        // Every TTL and a spread of checksums (ids vary), including carries.
        var frames: [[UInt8]] = [], expected: [[UInt8]] = []
        for ttl in 2...255 {
            for id: UInt16 in [0, 0x00FF, 0xFEFF, 0xFFFF, UInt16(ttl) &* 257] {
                let ip = Pkt.ipv4(src: a, dst: b, ttl: UInt8(ttl), id: id, payload: Pkt.udp([1, 2, 3]))
                frames.append(Pkt.padded(Pkt.ether(dst: r1MAC, src: aMAC, ip)))
                expected.append(Pkt.ether(dst: bMAC, src: r2MAC, Pkt.forwarded(ip)))
            }
        }
        var out: [[UInt8]] = []
        var k = 0
        while k < frames.count {
            let chunk = Array(frames[k..<min(k + 256, frames.count)])
            out += send(chunk, on: p1).out[p2] ?? []
            k += 256
        }
        XCTAssertEqual(out.count, expected.count)
        XCTAssertTrue(out == expected, "incremental update equals a full recomputation")
    }

    func testEthernetPaddingIsTrimmed() {
        let ip = udpFromA(to: b, payload: 0)       // 28-byte IP packet in a 60-byte frame
        let frame = Pkt.padded(Pkt.ether(dst: r1MAC, src: aMAC, ip))
        XCTAssertEqual(frame.count, 60)
        let r = send([frame], on: p1)
        XCTAssertEqual(r.out[p2], [Pkt.ether(dst: bMAC, src: r2MAC, Pkt.forwarded(ip))])
        XCTAssertEqual(r.out[p2]?.first?.count, 42)
    }

    func testVLANTaggedFrameIsRoutedUntagged() {
        let ip = udpFromA(to: b)
        let tagged = Pkt.mac(r1MAC) + Pkt.mac(aMAC) + [0x81, 0x00, 0x00, 0x05, 0x08, 0x00] + ip
        let r = send([tagged], on: p1)
        XCTAssertEqual(r.out[p2], [Pkt.ether(dst: bMAC, src: r2MAC, Pkt.forwarded(ip))])
    }

    func testBurstsKeepOrder() {
        for burst in [1, 255, 256, 257] {
            var ips: [[UInt8]] = [], expected: [[UInt8]] = []
            for i in 0..<burst {
                let dst: UInt32 = i % 2 == 0 ? b : remote
                let data: [UInt8] = [UInt8(i >> 8), UInt8(i & 0xFF)]
                let ip = Pkt.ipv4(src: a, dst: dst, id: UInt16(i), payload: Pkt.udp(data))
                ips.append(ip)
                let mac: UInt64 = i % 2 == 0 ? bMAC : gMAC
                expected.append(Pkt.ether(dst: mac, src: r2MAC, Pkt.forwarded(ip)))
            }
            let r = send(ips.map { Pkt.padded(Pkt.ether(dst: r1MAC, src: aMAC, $0)) }, on: p1)
            XCTAssertEqual(r.out[p2]?.count, burst, "burst \(burst)")
            XCTAssertTrue(r.out[p2] == expected, "burst \(burst): order and bytes kept")
            XCTAssertEqual(r.counters, [:], "burst \(burst)")
        }
    }

    // MARK: malformed input

    func testMalformedIPv4EachMovesExactlyItsCounter() {
        let good = udpFromA(to: b)
        func mutate(_ f: (inout [UInt8]) -> Void) -> [UInt8] { var p = good; f(&p); return p }
        func fixChecksum(_ p: inout [UInt8]) {
            p[10] = 0; p[11] = 0
            let hl = max(20, Int(p[0] & 0x0F) * 4)
            let c = Pkt.checksum(p[0..<hl]); p[10] = UInt8(c >> 8); p[11] = UInt8(c & 0xFF)
        }
        let cases: [(String, [UInt8], String)] = [
            ("total length longer than the frame", Pkt.ipv4(src: a, dst: b, payload: Pkt.udp([1, 2]), totalLength: 200), "ip4-input/truncated"),
            ("header cut short", Array(good.prefix(19)), "ip4-input/too-short"),
            ("version 6", mutate { $0[0] = 0x65; fixChecksum(&$0) }, "ip4-input/bad-version"),
            ("IHL 4", mutate { $0[0] = 0x44; fixChecksum(&$0) }, "ip4-input/bad-header-length"),
            ("IHL 15, frame too short for it", mutate { $0[0] = 0x4F }, "ip4-input/too-short"),
            ("bad checksum", mutate { $0[11] ^= 0x01 }, "ip4-input/bad-checksum"),
            ("total length below header", Pkt.ipv4(src: a, dst: b, payload: Pkt.udp([1]), totalLength: 19), "ip4-input/bad-length"),
            ("source 0.0.0.0", Pkt.ipv4(src: 0, dst: b, payload: Pkt.udp([1])), "ip4-input/source-unspecified"),
            ("source broadcast", Pkt.ipv4(src: 0xFFFF_FFFF, dst: b, payload: Pkt.udp([1])), "ip4-input/source-multicast"),
            ("source multicast", Pkt.ipv4(src: Pkt.ip("224.0.0.5"), dst: b, payload: Pkt.udp([1])), "ip4-input/source-multicast"),
            ("destination limited broadcast", Pkt.ipv4(src: a, dst: 0xFFFF_FFFF, payload: Pkt.udp([1])), "ip4-input/destination-multicast"),
            ("destination multicast", Pkt.ipv4(src: a, dst: Pkt.ip("239.1.1.1"), payload: Pkt.udp([1])), "ip4-input/destination-multicast"),
            ("directed broadcast of a connected subnet", Pkt.ipv4(src: a, dst: Pkt.ip("10.0.2.255"), payload: Pkt.udp([1])), "ip4-lookup/broadcast"),
        ]
        for (name, ip, counter) in cases {
            let frame = Pkt.ether(dst: r1MAC, src: aMAC, ip)
            let r = send([ip.count < 20 ? frame : Pkt.padded(frame)], on: p1)   // a runt stays a runt
            XCTAssertTrue(r.out.isEmpty, "\(name): nothing emitted")
            XCTAssertEqual(r.counters, [counter: 1], "\(name)")
        }
        // A unicast frame for another MAC (promiscuous receive) is not routed.
        let r = send([Pkt.ether(dst: 0x02_99_00_00_00_01, src: aMAC, good)], on: p1)
        XCTAssertTrue(r.out.isEmpty)
        XCTAssertEqual(r.counters, ["ip4-input/not-our-mac": 1])
        XCTAssertEqual(g.interfaces.drops[Int(p1)], UInt64(cases.count + 1))
    }

    func testIPv4OptionsAreCheckedAndForwarded() {
        let ip = Pkt.ipv4(src: a, dst: b, options: [0x01, 0x01, 0x01, 0x00], payload: Pkt.udp([9, 9]))
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, ip)], on: p1)
        XCTAssertEqual(r.out[p2], [Pkt.ether(dst: bMAC, src: r2MAC, Pkt.forwarded(ip))])
        var bad = ip; bad[22] ^= 0xFF           // inside the options: checksum no longer matches
        XCTAssertEqual(send([Pkt.ether(dst: r1MAC, src: aMAC, bad)], on: p1).counters, ["ip4-input/bad-checksum": 1])
    }

    func testInterfaceWithoutAddressDropsIPv4() {
        let p3 = g.addInterface("pg3")
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, udpFromA(to: b))], on: p3)
        XCTAssertTrue(r.out.isEmpty)
        XCTAssertEqual(r.counters, ["ip4-input/ip4-disabled": 1])
        let other = send([Pkt.ether(dst: r1MAC, src: aMAC, type: 0x86DD, [UInt8](repeating: 0, count: 46))], on: p1)
        XCTAssertEqual(other.counters, ["ethernet-input/not-bridged": 1], "no L3 path for IPv6")
    }

    // MARK: ICMP errors

    /// The ICMP error the router sends to A about `orig` (an IP packet A sent).
    func icmpErrorToA(type: UInt8, code: UInt8, rest: UInt32 = 0, about orig: [UInt8], from src: UInt32? = nil) -> [UInt8] {
        let hl = Int(orig[0] & 0x0F) * 4
        let quoted = Array(orig.prefix(min(orig.count, hl + 8)))
        let icmp = Pkt.icmp(type: type, code: code, rest: rest, quoted)
        let ip = Pkt.ipv4(src: src ?? r1, dst: a, proto: 1, ttl: 64, id: 0, payload: icmp)
        return Pkt.ether(dst: aMAC, src: r1MAC, ip)
    }

    func testTTL1SendsTimeExceededWithTheOriginalHeader() {
        let orig = udpFromA(to: b, ttl: 1, payload: 40)
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, orig)], on: p1)
        XCTAssertNil(r.out[p2], "not forwarded")
        let expected = icmpErrorToA(type: 11, code: 0, about: orig)
        XCTAssertEqual(r.out[p1], [expected])
        let out = r.out[p1]![0]
        XCTAssertTrue(Pkt.headerValid(out[14...]), "outer IP checksum")
        XCTAssertEqual(Pkt.checksum(out[34...]), 0, "ICMP checksum")
        XCTAssertEqual(Array(out[42..<70]), Array(orig[0..<28]), "embedded header + 8 bytes, TTL as received")
        XCTAssertEqual(r.counters, ["ip4-rewrite/ttl-expired": 1, "ip4-icmp-error/time-exceeded-sent": 1])
    }

    func testTTL1ToTheRouterItselfIsAnswered() {
        let echo = Pkt.icmp(type: 8, rest: 0x0001_0001, [1, 2, 3, 4])
        let req = Pkt.ipv4(src: a, dst: r1, proto: 1, ttl: 1, payload: echo)
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, req)], on: p1)
        XCTAssertEqual(r.out[p1]?.count, 1)
        XCTAssertEqual(r.counters, ["icmp-echo/replies-sent": 1])
    }

    /// Issue 18.5: TTL 0 used to be dropped silently at ip4-input. Routed, it is
    /// answered with time exceeded (as Linux and VPP do); for the router itself
    /// it is received whatever its TTL (RFC 1812 5.3.1).
    func testTTL0IsAnsweredLikeTTL1() {
        let orig = udpFromA(to: b, ttl: 0, payload: 40)
        var r = send([Pkt.ether(dst: r1MAC, src: aMAC, orig)], on: p1)
        XCTAssertNil(r.out[p2], "not forwarded")
        XCTAssertEqual(r.out[p1], [icmpErrorToA(type: 11, code: 0, about: orig)])
        XCTAssertEqual(r.counters, ["ip4-rewrite/ttl-expired": 1, "ip4-icmp-error/time-exceeded-sent": 1])

        let data: [UInt8] = [1, 2, 3, 4]
        let req = Pkt.ipv4(src: a, dst: r1, proto: 1, ttl: 0, id: 0x77, payload: Pkt.icmp(type: 8, rest: 0x0001_0001, data))
        r = send([Pkt.ether(dst: r1MAC, src: aMAC, req)], on: p1)
        let reply = Pkt.ipv4(src: r1, dst: a, proto: 1, ttl: 64, id: 0x77, payload: Pkt.icmp(type: 0, rest: 0x0001_0001, data))
        XCTAssertEqual(r.out[p1], [Pkt.ether(dst: aMAC, src: r1MAC, reply)])
        XCTAssertEqual(r.counters, ["icmp-echo/replies-sent": 1])
    }

    /// Issue 18.6: a UDP length field that cannot be true is a UDP error (Linux
    /// drops it, no answer), not "no listener" with a port unreachable.
    func testUDPWithImpossibleLengthToTheRouterIsDroppedNotAnswered() {
        func withUDPLength(_ n: UInt16) -> [UInt8] {
            var u = Pkt.udp(sport: 4000, dport: 53, [1, 2, 3, 4, 5, 6, 7, 8])
            u[4] = UInt8(n >> 8); u[5] = UInt8(n & 0xFF)
            return Pkt.ether(dst: r1MAC, src: aMAC, Pkt.ipv4(src: a, dst: r1, proto: 17, payload: u))
        }
        let r = send([withUDPLength(17), withUDPLength(7), withUDPLength(0), withUDPLength(16)], on: p1)
        XCTAssertEqual(r.counters, ["ip4-local/udp-bad-length": 3, "ip4-local/udp-no-listener": 1,
                                    "ip4-icmp-error/unreachable-sent": 1], "16 = the whole payload: a valid length")
        XCTAssertEqual(r.out[p1]?.count, 1)
    }

    func testDontFragmentAndTooBigSendsFragmentationNeeded() throws {
        try build(mtu2: 1400)
        let orig = udpFromA(to: b, payload: 1500 - 28, flags: 0x4000)
        XCTAssertEqual(orig.count, 1500)
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, orig)], on: p1)
        XCTAssertNil(r.out[p2])
        XCTAssertEqual(r.out[p1], [icmpErrorToA(type: 3, code: 4, rest: 1400, about: orig)])
        XCTAssertEqual(r.counters, ["ip4-rewrite/fragmentation-needed": 1, "ip4-icmp-error/fragmentation-needed-sent": 1])

        // DF clear: no fragmentation in this step, a counted drop.
        let noDF = udpFromA(to: b, payload: 1500 - 28)
        let r2 = send([Pkt.ether(dst: r1MAC, src: aMAC, noDF)], on: p1)
        XCTAssertTrue(r2.out.isEmpty)
        XCTAssertEqual(r2.counters, ["ip4-rewrite/mtu-exceeded": 1])

        // Exactly the MTU passes.
        let fits = udpFromA(to: b, payload: 1400 - 28, flags: 0x4000)
        XCTAssertEqual(send([Pkt.ether(dst: r1MAC, src: aMAC, fits)], on: p1).out[p2], [Pkt.ether(dst: bMAC, src: r2MAC, Pkt.forwarded(fits))])
    }

    func testNoRouteSendsNetUnreachable() {
        let orig = udpFromA(to: Pkt.ip("203.0.113.9"), payload: 4)
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, orig)], on: p1)
        XCTAssertEqual(r.out[p1], [icmpErrorToA(type: 3, code: 0, about: orig)])
        XCTAssertNil(r.out[p2])
        XCTAssertEqual(r.counters, ["ip4-lookup/no-route": 1, "ip4-icmp-error/unreachable-sent": 1])
    }

    func testBlackholeRouteDropsSilentlyButCounted() throws {
        try ip4.addRoute(IPv4Prefix("203.0.113.0/24")!, kind: .drop)
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, udpFromA(to: Pkt.ip("203.0.113.9")))], on: p1)
        XCTAssertTrue(r.out.isEmpty)
        XCTAssertEqual(r.counters, ["ip4-lookup/blackhole": 1])
    }

    func testNoICMPErrorAboutAnICMPError() {
        let inner = udpFromA(to: Pkt.ip("192.0.2.1"))
        let err = Pkt.ipv4(src: a, dst: Pkt.ip("203.0.113.9"), proto: 1, payload: Pkt.icmp(type: 3, code: 1, Array(inner.prefix(28))))
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, err)], on: p1)
        XCTAssertTrue(r.out.isEmpty)
        XCTAssertEqual(r.counters, ["ip4-lookup/no-route": 1, "ip4-icmp-error/about-icmp-error": 1])
    }

    func testICMPErrorsAreRateLimited() {
        ip4.icmpErrorsPerSecond = 3
        let frames = (0..<5).map { _ in Pkt.ether(dst: r1MAC, src: aMAC, udpFromA(to: Pkt.ip("203.0.113.9"))) }
        let r = send(frames, on: p1)
        XCTAssertEqual(r.out[p1]?.count, 3)
        XCTAssertEqual(r.counters["ip4-icmp-error/rate-limited"], 2)
    }

    func testUDPToTheRouterGetsPortUnreachable() {
        let orig = udpFromA(to: r1, payload: 8)
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, orig)], on: p1)
        XCTAssertEqual(r.out[p1], [icmpErrorToA(type: 3, code: 3, about: orig)])
        XCTAssertEqual(r.counters, ["ip4-local/udp-no-listener": 1, "ip4-icmp-error/unreachable-sent": 1])
    }

    // MARK: ping

    func testPingToTheRouterIsAnsweredByteExact() {
        let data = (0..<56).map { UInt8($0) }
        let req = Pkt.ipv4(src: a, dst: r1, proto: 1, ttl: 64, id: 0x4242, flags: 0x4000,
                           payload: Pkt.icmp(type: 8, rest: 0x1234_0007, data))
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, req)], on: p1)
        let reply = Pkt.ipv4(src: r1, dst: a, proto: 1, ttl: 64, id: 0x4242, flags: 0x4000,
                             payload: Pkt.icmp(type: 0, rest: 0x1234_0007, data))
        XCTAssertEqual(r.out[p1], [Pkt.ether(dst: aMAC, src: r1MAC, reply)])
        XCTAssertEqual(r.counters, ["icmp-echo/replies-sent": 1])

        // The other interface's address answers too (weak host), out of the asking side.
        let req2 = Pkt.ipv4(src: a, dst: r2, proto: 1, payload: Pkt.icmp(type: 8, rest: 0x0001_0002, data))
        let reply2 = Pkt.ipv4(src: r2, dst: a, proto: 1, payload: Pkt.icmp(type: 0, rest: 0x0001_0002, data))
        XCTAssertEqual(send([Pkt.ether(dst: r1MAC, src: aMAC, req2)], on: p1).out[p1], [Pkt.ether(dst: aMAC, src: r1MAC, reply2)])
    }

    func testPingWithBadChecksumOrOtherTypesIsConsumedAndCounted() {
        var bad = Pkt.icmp(type: 8, rest: 1, [1, 2, 3])
        bad[3] ^= 0x40
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, Pkt.ipv4(src: a, dst: r1, proto: 1, payload: bad)),
                      Pkt.ether(dst: r1MAC, src: aMAC, Pkt.ipv4(src: a, dst: r1, proto: 1, payload: Pkt.icmp(type: 0, rest: 1, [1])))], on: p1)
        XCTAssertTrue(r.out.isEmpty)
        XCTAssertEqual(r.counters, ["icmp-echo/bad-checksum": 1, "icmp-echo/not-echo-request": 1])
    }

    // MARK: ARP

    func testARPRequestForOwnAddressIsAnsweredAndTheAskerLearned() {
        let cMAC: UInt64 = 0x02_DD_00_00_00_1E, c = Pkt.ip("10.0.1.30")
        let req = Pkt.padded(Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: cMAC, type: 0x0806,
                                       Pkt.arp(op: 1, sha: cMAC, spa: c, tha: 0, tpa: r1)))
        let r = send([req], on: p1)
        let reply = Pkt.ether(dst: cMAC, src: r1MAC, type: 0x0806, Pkt.arp(op: 2, sha: r1MAC, spa: r1, tha: cMAC, tpa: c))
        XCTAssertEqual(r.out[p1], [reply])
        XCTAssertEqual(r.out[p1]?.first?.count, 42)
        XCTAssertEqual(r.counters, ["arp-input/replies-sent": 1, "arp-input/learned": 1])
        XCTAssertEqual(ip4.neighbour(c, interface: p1)?.mac, cMAC)
        XCTAssertEqual(ip4.neighbour(c, interface: p1)?.state, .reachable)

        // The learned host is now reachable through its /32 host route.
        let ip = Pkt.ipv4(src: b, dst: c, payload: Pkt.udp([5]))
        XCTAssertEqual(send([Pkt.ether(dst: r2MAC, src: bMAC, ip)], on: p2).out[p1], [Pkt.ether(dst: cMAC, src: r1MAC, Pkt.forwarded(ip))])
        XCTAssertEqual(ip4.fib.table(0)!.adjacency(of: c, length: 32), ip4.neighbour(c, interface: p1)?.adjacency)
    }

    func testARPNotForUsIsNotAnsweredAndLearnsNothingNew() {
        let cMAC: UInt64 = 0x02_DD_00_00_00_1E, c = Pkt.ip("10.0.1.30")
        let req = Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: cMAC, type: 0x0806, Pkt.arp(op: 1, sha: cMAC, spa: c, tha: 0, tpa: Pkt.ip("10.0.1.99")))
        let r = send([req], on: p1)
        XCTAssertTrue(r.out.isEmpty)
        XCTAssertEqual(r.counters, ["arp-input/not-for-us": 1])
        XCTAssertNil(ip4.neighbour(c, interface: p1))
    }

    func testMalformedARPIsCounted() {
        let cMAC: UInt64 = 0x02_DD_00_00_00_1E
        var wrongType = Pkt.arp(op: 1, sha: cMAC, spa: Pkt.ip("10.0.1.30"), tha: 0, tpa: r1); wrongType[1] = 6
        let cases: [([UInt8], String)] = [
            (Array(Pkt.arp(op: 1, sha: cMAC, spa: Pkt.ip("10.0.1.30"), tha: 0, tpa: r1).prefix(20)), "arp-input/too-short"),
            (wrongType, "arp-input/not-ethernet-ipv4"),
            (Pkt.arp(op: 3, sha: cMAC, spa: Pkt.ip("10.0.1.30"), tha: 0, tpa: r1), "arp-input/bad-operation"),
            (Pkt.arp(op: 1, sha: 0x01_00_5E_00_00_01, spa: Pkt.ip("10.0.1.30"), tha: 0, tpa: r1), "arp-input/sender-multicast"),
            (Pkt.arp(op: 1, sha: cMAC, spa: r1, tha: 0, tpa: r1), "arp-input/address-conflict"),
            (Pkt.arp(op: 1, sha: cMAC, spa: Pkt.ip("10.9.9.9"), tha: 0, tpa: r1), "arp-input/sender-off-subnet"),
        ]
        for (body, counter) in cases {
            let r = send([Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: cMAC, type: 0x0806, body)], on: p1)
            XCTAssertTrue(r.out.isEmpty, counter)
            XCTAssertEqual(r.counters, [counter: 1], counter)
        }
    }

    func testUnresolvedNextHopSendsOneARPRequestAndDropsCounted() {
        let d = Pkt.ip("10.0.2.77"), dMAC: UInt64 = 0x02_EE_00_00_00_4D
        let ips = (0..<3).map { i in Pkt.ipv4(src: a, dst: d, id: UInt16(i), payload: Pkt.udp([UInt8(i)])) }
        let r = send(ips.map { Pkt.ether(dst: r1MAC, src: aMAC, $0) }, on: p1)
        let request = Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: r2MAC, type: 0x0806, Pkt.arp(op: 1, sha: r2MAC, spa: r2, tha: 0, tpa: d))
        XCTAssertEqual(r.out[p2], [request], "one ARP request, no data")
        XCTAssertNil(r.out[p1])
        XCTAssertEqual(r.counters, ["ip4-arp/requests-sent": 1, "ip4-arp/throttled": 2, "ip4-arp/unresolved": 3])
        XCTAssertEqual(ip4.neighbour(d, interface: p2)?.state, .incomplete)

        // The reply resolves it; the next packet is forwarded.
        let reply = Pkt.padded(Pkt.ether(dst: r2MAC, src: dMAC, type: 0x0806, Pkt.arp(op: 2, sha: dMAC, spa: d, tha: r2MAC, tpa: r2)))
        XCTAssertEqual(send([reply], on: p2).counters, ["arp-input/learned": 1, "arp-input/replies-received": 1])
        let r2 = send([Pkt.ether(dst: r1MAC, src: aMAC, ips[0])], on: p1)
        XCTAssertEqual(r2.out[p2], [Pkt.ether(dst: dMAC, src: r2MAC, Pkt.forwarded(ips[0]))])
        XCTAssertEqual(r2.counters, [:])
    }

    func testARPRetriesAreLimitedPerSecondAndByProbeCount() {
        let d = Pkt.ip("10.0.2.77")
        let frame = Pkt.ether(dst: r1MAC, src: aMAC, Pkt.ipv4(src: a, dst: d, payload: Pkt.udp([1])))
        let t0 = g.graph.nowSeconds
        var requests = 0
        for s in 0..<6 {
            g.graph.nowSeconds = t0 &+ UInt32(s)
            requests += send([frame, frame], on: p1).out[p2]?.count ?? 0
        }
        XCTAssertEqual(requests, Int(ip4.arpProbeLimit), "one per second until the probe limit")
        XCTAssertEqual(ip4.neighbour(d, interface: p2)?.state, .failed)
        g.graph.nowSeconds = t0 &+ UInt32(ip4.arpProbeLimit) &- 1 &+ ip4.arpFailedRetrySeconds
        XCTAssertEqual(send([frame], on: p1).out[p2]?.count, 1, "asked again after the retry interval")
    }

    func testRouteThroughAnUnresolvedNextHopAsksForTheNextHop() throws {
        let h = Pkt.ip("10.0.2.200")
        try ip4.addRoute(IPv4Prefix("192.0.2.0/24")!, via: h, interface: p2)
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, udpFromA(to: Pkt.ip("192.0.2.33")))], on: p1)
        XCTAssertEqual(r.out[p2], [Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: r2MAC, type: 0x0806, Pkt.arp(op: 1, sha: r2MAC, spa: r2, tha: 0, tpa: h))])
        XCTAssertEqual(r.counters, ["ip4-arp/requests-sent": 1, "ip4-arp/unresolved": 1])
    }

    // MARK: tables

    func testNeighboursAgeButRouteNextHopsAndStaticOnesStay() throws {
        let cMAC: UInt64 = 0x02_DD_00_00_00_1E, c = Pkt.ip("10.0.1.30")
        let now = g.graph.nowSeconds
        _ = ip4.learn(interface: p1, address: c, mac: cMAC, now: now, create: true)
        let h = Pkt.ip("10.0.2.100")
        _ = ip4.learn(interface: p2, address: h, mac: 0x02_00_00_00_00_64, now: now, create: true)
        try ip4.addRoute(IPv4Prefix("192.0.2.0/24")!, via: h, interface: p2)
        XCTAssertNotNil(ip4.fib.table(0)!.adjacency(of: c, length: 32))
        XCTAssertEqual(ip4.age(now: now &+ ip4.neighbourAgeSeconds, budget: ip4.neighbours.capacity), 1)
        XCTAssertNil(ip4.neighbour(c, interface: p1), "unreferenced dynamic neighbour aged out")
        XCTAssertNil(ip4.fib.table(0)!.adjacency(of: c, length: 32), "with its host route")
        XCTAssertNotNil(ip4.neighbour(h, interface: p2), "a route's next hop stays")
        XCTAssertNotNil(ip4.neighbour(a, interface: p1), "static stays")
        // Deleting the route lets the next hop age.
        XCTAssertTrue(ip4.deleteRoute(IPv4Prefix("192.0.2.0/24")!))
        XCTAssertEqual(ip4.age(now: now &+ ip4.neighbourAgeSeconds, budget: ip4.neighbours.capacity), 1)
        XCTAssertNil(ip4.neighbour(h, interface: p2))
    }

    func testUsedNeighbourIsProbedBeforeItAgesAndStaysWhenItAnswersIdleOneAges() throws {
        // c is on pg2; a (pg1) sends to it, so its adjacency is used through ip4-rewrite.
        let cMAC: UInt64 = 0x02_DD_00_00_00_1E, c = Pkt.ip("10.0.2.30")
        let idleMAC: UInt64 = 0x02_DD_00_00_00_1F, idle = Pkt.ip("10.0.2.31")
        let t0 = g.graph.nowSeconds
        _ = ip4.learn(interface: p2, address: c, mac: cMAC, now: t0, create: true)
        _ = ip4.learn(interface: p2, address: idle, mac: idleMAC, now: t0, create: true)
        let toC = Pkt.ether(dst: r1MAC, src: aMAC, udpFromA(to: c))
        XCTAssertEqual(send([toC], on: p1).out[p2]?.count, 1, "forwarded to c")
        let age = ip4.neighbourAgeSeconds, lead = ip4.neighbourRefreshSeconds, all = ip4.neighbours.capacity
        var probes: [[UInt64]] = []
        let record = { (i: UInt32, a: UInt32, m: UInt64) in probes.append([UInt64(i), UInt64(a), m]) }
        ip4.age(now: t0 &+ age &- lead &- 1, budget: all, probe: record)
        XCTAssertEqual(probes, [], "not due yet")
        ip4.age(now: t0 &+ age &- lead, budget: all, probe: record)
        XCTAssertEqual(probes, [[UInt64(p2), UInt64(c), cMAC]], "one probe, to the MAC it has; none to the idle one")
        _ = send([toC], on: p1)
        ip4.age(now: t0 &+ age &- lead &+ 1, budget: all, probe: record)
        XCTAssertEqual(probes.count, 1, "not again within a third of the window")
        ip4.age(now: t0 &+ age &- lead &+ lead / 3, budget: all, probe: record)
        XCTAssertEqual(probes.count, 2, "asked again while it does not answer and is still used")
        ip4.age(now: t0 &+ age &- lead &+ 2 &* (lead / 3), budget: all, probe: record)
        XCTAssertEqual(probes.count, 2, "no packets to it since the last probe: not asked")

        // Through the graph: a unicast who-has from pg2's address to c's MAC.
        _ = send([toC], on: p1)
        g.pgOutput.clearCapture()
        let before = counters()
        ip4.housekeeping(g.graph, now: t0 &+ age &- 1, budget: all)
        g.run()
        XCTAssertEqual(g.pgOutput.captured[p2], [Pkt.ether(dst: cMAC, src: r2MAC, type: 0x0806,
                                                           Pkt.arp(op: 1, sha: r2MAC, spa: r2, tha: 0, tpa: c))])
        XCTAssertEqual(delta(before), ["ip4-arp/probes-sent": 1])

        // Its reply confirms it: it does not age out at t0 + age; the idle one does.
        g.graph.nowSeconds = t0 &+ age &- 1
        let reply = send([Pkt.ether(dst: r2MAC, src: cMAC, type: 0x0806, Pkt.arp(op: 2, sha: cMAC, spa: c, tha: r2MAC, tpa: r2))], on: p2)
        XCTAssertEqual(reply.out.values.flatMap { $0 }, [])
        XCTAssertEqual(ip4.age(now: t0 &+ age, budget: all), 1)
        XCTAssertNotNil(ip4.neighbour(c, interface: p2), "confirmed by its reply: still there")
        XCTAssertNil(ip4.neighbour(idle, interface: p2), "never used: aged out without a probe")
        // One that stops answering ages out as before.
        XCTAssertEqual(ip4.age(now: t0 &+ 2 &* age, budget: all), 1)
        XCTAssertNil(ip4.neighbour(c, interface: p2))
    }

    func testRouteDeleteAndReplaceReleaseAdjacencies() throws {
        let before = ip4.adjacencies.count
        let h1 = Pkt.ip("10.0.2.201"), h2 = Pkt.ip("10.0.2.202")
        let pfx = IPv4Prefix("192.0.2.0/24")!
        try ip4.addRoute(pfx, via: h1, interface: p2)
        XCTAssertEqual(ip4.adjacencies.count, before + 1)
        try ip4.addRoute(pfx, via: h2, interface: p2)
        XCTAssertNil(ip4.neighbour(h1, interface: p2), "replaced, unresolved next hop released")
        XCTAssertEqual(ip4.adjacencies.count, before + 1)
        XCTAssertTrue(ip4.deleteRoute(pfx))
        XCTAssertNil(ip4.neighbour(h2, interface: p2))
        XCTAssertEqual(ip4.adjacencies.count, before)
        XCTAssertFalse(ip4.deleteRoute(pfx))
    }

    func testRemovingAnAddressTurnsTheInterfaceOff() {
        ip4.removeAddress(interface: p1)
        XCTAssertNil(ip4.fib.table(0)!.adjacency(of: r1, length: 32))
        XCTAssertNil(ip4.neighbour(a, interface: p1))
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, udpFromA(to: b))], on: p1)
        XCTAssertEqual(r.counters, ["ip4-input/ip4-disabled": 1])
    }

    func testBridgedInterfacesStillBridgeIPv4() {
        l2.domains.create(id: 1, learnLimit: 100, macAgeSeconds: 0)
        let p3 = g.addInterface("pg3"), p4 = g.addInterface("pg4")
        XCTAssertTrue(l2.attach(p3, to: 1, interfaces: g.interfaces))
        XCTAssertTrue(l2.attach(p4, to: 1, interfaces: g.interfaces))
        let f = Pkt.ether(dst: 0x02_00_00_00_00_77, src: aMAC, udpFromA(to: b))
        XCTAssertEqual(send([f], on: p3).out[p4], [f])
    }

    func testTraceShowsTheRoutedPath() {
        g.graph.trace.arm(node: g.pgInput.index, count: 1)
        _ = send([Pkt.ether(dst: r1MAC, src: aMAC, udpFromA(to: b))], on: p1)
        let lines = g.graph.trace.snapshot().map { g.graph.nodes[Int($0.node)].formatTrace($0) }
        XCTAssertTrue(lines.contains { $0.hasPrefix("ip4-input: 10.0.1.10 -> 10.0.2.20 proto 17 ttl 64") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("ip4-lookup: fib 0 10.0.2.20 -> adjacency") && $0.hasSuffix("(rewrite)") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("ip4-rewrite: adjacency") && $0.contains("ttl 64 -> 63") }, "\(lines)")
        g.graph.trace.clear()
    }

    // MARK: more tables and VRFs

    func testICMPErrorSourceIsTheReceivingInterfacesAddress() {
        let orig = Pkt.ipv4(src: b, dst: a, ttl: 1, payload: Pkt.udp([7, 7, 7]))
        let r = send([Pkt.ether(dst: r2MAC, src: bMAC, orig)], on: p2)
        let icmp = Pkt.icmp(type: 11, code: 0, Array(orig.prefix(28)))
        XCTAssertEqual(r.out[p2], [Pkt.ether(dst: bMAC, src: r2MAC, Pkt.ipv4(src: r2, dst: b, proto: 1, id: 0, payload: icmp))])
    }

    func testMTUChangeReachesTheAdjacencies() {
        g.interfaces.mtu[Int(p2)] = 1000
        ip4.interfaceMTUChanged(p2)
        let orig = udpFromA(to: remote, payload: 1200 - 28, flags: 0x4000)
        let r = send([Pkt.ether(dst: r1MAC, src: aMAC, orig)], on: p1)
        XCTAssertEqual(r.out[p1], [icmpErrorToA(type: 3, code: 4, rest: 1000, about: orig)])
    }

    func testARPUpdatesAMovedNeighbourButNeverAStaticOne() {
        let c = Pkt.ip("10.0.2.30"), c1: UInt64 = 0x02_DD_00_00_00_01, c2: UInt64 = 0x02_DD_00_00_00_02
        func arp(_ op: UInt16, _ sha: UInt64, _ spa: UInt32, _ tpa: UInt32) -> [UInt8] {
            Pkt.padded(Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: sha, type: 0x0806, Pkt.arp(op: op, sha: sha, spa: spa, tha: 0, tpa: tpa)))
        }
        _ = send([arp(1, c1, c, r2)], on: p2)
        XCTAssertEqual(ip4.neighbour(c, interface: p2)?.mac, c1)
        // A gratuitous ARP (not for us) from a known neighbour with a new MAC updates it.
        XCTAssertEqual(send([arp(1, c2, c, c)], on: p2).counters, ["arp-input/learned": 1, "arp-input/not-for-us": 1])
        let ip = udpFromA(to: c)
        XCTAssertEqual(send([Pkt.ether(dst: r1MAC, src: aMAC, ip)], on: p1).out[p2], [Pkt.ether(dst: c2, src: r2MAC, Pkt.forwarded(ip))])
        // B is static: ARP does not move it.
        _ = send([arp(1, c2, b, r2)], on: p2)
        XCTAssertEqual(ip4.neighbour(b, interface: p2)?.mac, bMAC)
        XCTAssertEqual(ip4.neighbour(b, interface: p2)?.isStatic, true)
    }

    func testARPProbeForOurAddressIsDefended() {
        let cMAC: UInt64 = 0x02_DD_00_00_00_1E
        let probe = Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: cMAC, type: 0x0806, Pkt.arp(op: 1, sha: cMAC, spa: 0, tha: 0, tpa: r1))
        let r = send([probe], on: p1)
        XCTAssertEqual(r.out[p1], [Pkt.ether(dst: cMAC, src: r1MAC, type: 0x0806, Pkt.arp(op: 2, sha: r1MAC, spa: r1, tha: cMAC, tpa: 0))])
        XCTAssertEqual(r.counters, ["arp-input/replies-sent": 1])
    }

    func testAConfiguredHostRouteTakesOverTheLearnedOne() throws {
        let c = Pkt.ip("10.0.1.30")
        _ = ip4.learn(interface: p1, address: c, mac: 0x02_DD_00_00_00_1E, now: g.graph.nowSeconds, create: true)
        let adj = ip4.neighbour(c, interface: p1)!.adjacency
        try ip4.addRoute(IPv4Prefix(address: c, length: 32)!, via: c, interface: p1)
        XCTAssertEqual(ip4.neighbour(c, interface: p1)?.routeRefs, 1)
        XCTAssertEqual(ip4.age(now: g.graph.nowSeconds &+ ip4.neighbourAgeSeconds, budget: ip4.neighbours.capacity), 0)
        XCTAssertEqual(ip4.fib.table(0)!.adjacency(of: c, length: 32), adj, "the configured /32 survives ageing")
    }

    func testEachInterfaceLooksUpInItsOwnTableWithinOneVector() throws {
        // pg3 in VRF 1 reuses pg1's subnet; 198.51.100.0/24 goes elsewhere there.
        _ = try ip4.fib.create(1, groupCapacity: 64)
        let p3 = g.addInterface("pg3"), p4 = g.addInterface("pg4")
        let r3MAC: UInt64 = 0x02_00_00_00_03_01, r4MAC: UInt64 = 0x02_00_00_00_04_01, hMAC: UInt64 = 0x02_44_00_00_00_09
        try ip4.setAddress(r1, prefixLength: 24, interface: p3, mac: r3MAC, table: 1)
        try ip4.setAddress(Pkt.ip("10.9.0.1"), prefixLength: 24, interface: p4, mac: r4MAC, table: 1)
        try ip4.addNeighbour(Pkt.ip("10.9.0.9"), mac: hMAC, interface: p4)
        try ip4.addRoute(IPv4Prefix("198.51.100.0/24")!, via: Pkt.ip("10.9.0.9"), interface: p4, table: 1)
        var in1: [[UInt8]] = [], in3: [[UInt8]] = [], out2: [[UInt8]] = [], out4: [[UInt8]] = []
        for i in 0..<40 {
            let ip = Pkt.ipv4(src: a, dst: remote, id: UInt16(i), payload: Pkt.udp([UInt8(i)]))
            in1.append(Pkt.ether(dst: r1MAC, src: aMAC, ip)); out2.append(Pkt.ether(dst: gMAC, src: r2MAC, Pkt.forwarded(ip)))
            in3.append(Pkt.ether(dst: r3MAC, src: aMAC, ip)); out4.append(Pkt.ether(dst: hMAC, src: r4MAC, Pkt.forwarded(ip)))
        }
        g.pgOutput.clearCapture()
        g.inject(in1, on: p1)
        g.inject(in3, on: p3)
        g.run()
        XCTAssertEqual(g.pgOutput.captured[p2], out2)
        XCTAssertEqual(g.pgOutput.captured[p4], out4)
    }
}
