import XCTest
import WeftTestSupport
import WeftEngine
import WeftIO
import WeftL2
import WeftPacket
@testable import WeftIP4
@testable import WeftNAT

/// NAT44-ED driven by pg: byte-exact frames both ways, every checksum
/// recomputed independently (Pkt), every refusal under its counter.
///
/// Topology: the router has inside pg1 = 10.0.1.1/24 (containers C
/// 10.0.1.10 and D 10.0.1.20), outside pg2 = 192.0.2.1/24 with the default
/// route via G 192.0.2.254, and a plain routed pg3 = 10.0.3.1/24 (host H
/// 10.0.3.30, not the uplink). All neighbours static.
final class NAT44Tests: XCTestCase {
    var g: EmbeddedGraph!
    var ip4: IP4Feature!
    var nat: NAT44Feature!
    var p1: UInt32 = 0, p2: UInt32 = 0, p3: UInt32 = 0

    let r1MAC: UInt64 = 0x02_00_00_00_01_01, r2MAC: UInt64 = 0x02_00_00_00_02_01, r3MAC: UInt64 = 0x02_00_00_00_03_01
    let cMAC: UInt64 = 0x02_CC_00_00_00_0A, dMAC: UInt64 = 0x02_DD_00_00_00_14, gMAC: UInt64 = 0x02_EE_00_00_00_FE
    let hMAC: UInt64 = 0x02_33_00_00_00_1E
    let r1 = Pkt.ip("10.0.1.1"), outside = Pkt.ip("192.0.2.1"), r3 = Pkt.ip("10.0.3.1")
    let c = Pkt.ip("10.0.1.10"), d = Pkt.ip("10.0.1.20"), gw = Pkt.ip("192.0.2.254"), h = Pkt.ip("10.0.3.30")
    let remote = Pkt.ip("198.51.100.7")

    override func setUpWithError() throws {
        try build(NAT44Config())
    }

    func build(_ config: NAT44Config, outsideMTU: Int = 1500) throws {
        let l2 = L2Feature(macTableCapacity: 4096)
        let ip4 = try IP4Feature(fibTables: 4, groupCapacity: 1024, adjacencyCapacity: 1024, neighbourCapacity: 1024)
        let nat = try NAT44Feature(config: config, ip4: ip4)
        self.ip4 = ip4; self.nat = nat
        g = try EmbeddedGraph { l2.register(in: $0); ip4.register(in: $0); nat.register(in: $0) }
        g.pgOutput.captureEnabled = true
        g.graph.nowSeconds = 1000
        p1 = g.addInterface("pg1"); p2 = g.addInterface("pg2", mtu: outsideMTU); p3 = g.addInterface("pg3")
        try ip4.setAddress(r1, prefixLength: 24, interface: p1, mac: r1MAC)
        try ip4.setAddress(outside, prefixLength: 24, interface: p2, mac: r2MAC)
        try ip4.setAddress(r3, prefixLength: 24, interface: p3, mac: r3MAC)
        try ip4.addNeighbour(c, mac: cMAC, interface: p1)
        try ip4.addNeighbour(d, mac: dMAC, interface: p1)
        try ip4.addNeighbour(gw, mac: gMAC, interface: p2)
        try ip4.addNeighbour(h, mac: hMAC, interface: p3)
        try ip4.addRoute(IPv4Prefix("0.0.0.0/0")!, via: gw, interface: p2)
        nat.setOutside(interface: p2, address: outside)
        nat.setInside(interface: p1, true)
    }

    override func tearDown() {
        g.run()
        XCTAssertEqual(g.graph.framesInUse, 0)
        XCTAssertEqual(g.buffersInFlight, 0, "no buffer leaked")
    }

    // MARK: helpers

    func counters() -> [String: UInt64] { g.counters() }

    func delta(_ before: [String: UInt64]) -> [String: UInt64] { g.counterDelta(since: before) }

    func send(_ ips: [[UInt8]], on rx: UInt32) -> (out: [UInt32: [[UInt8]]], counters: [String: UInt64]) {
        let mac: UInt64 = rx == p1 ? r1MAC : rx == p2 ? r2MAC : r3MAC
        let src: UInt64 = rx == p1 ? cMAC : rx == p2 ? gMAC : hMAC
        g.pgOutput.clearCapture()
        let before = counters()
        var k = 0
        while k < ips.count {
            g.inject(ips[k..<min(k + 256, ips.count)].map { Pkt.padded(Pkt.ether(dst: mac, src: src, $0)) }, on: rx)
            g.run()
            k += 256
        }
        return (g.pgOutput.captured, delta(before))
    }

    /// The IP packets sent on `tx` (L2 header checked and stripped).
    func ips(_ out: [UInt32: [[UInt8]]], _ tx: UInt32, file: StaticString = #filePath, line: UInt = #line) -> [[UInt8]] {
        let (dst, src): (UInt64, UInt64) = tx == p2 ? (gMAC, r2MAC) : tx == p3 ? (hMAC, r3MAC) : (cMAC, r1MAC)
        return (out[tx] ?? []).map { f in
            if tx != p1 { XCTAssertEqual(Array(f[0..<12]), Pkt.mac(dst) + Pkt.mac(src), "L2 header", file: file, line: line) }
            return Array(f[14...])
        }
    }

    /// Outside port the router chose: the source port (or echo id) of a translated packet.
    func sourcePort(_ ip: [UInt8]) -> UInt16 { ip[9] == 1 ? Pkt.u16(ip, 24) : Pkt.u16(ip, 20) }

    // MARK: translation both ways, byte exact

    func testUDPTranslatedBothWaysByteExact() {
        let r = send([Pkt.udpPacket(src: c, dst: remote, sport: 40000, dport: 53)], on: p1)
        let out = ips(r.out, p2)
        XCTAssertEqual(out.count, 1)
        let port = sourcePort(out[0])
        XCTAssertTrue((32768...65535).contains(port))
        XCTAssertEqual(out[0], Pkt.forwarded(Pkt.udpPacket(src: outside, dst: remote, sport: port, dport: 53)))
        XCTAssertTrue(Pkt.allChecksumsValid(out[0]))
        XCTAssertEqual(r.counters, ["nat44-in2out/sessions-created": 1])

        let back = send([Pkt.udpPacket(src: remote, dst: outside, sport: 53, dport: port, [9, 9, 9])], on: p2)
        XCTAssertEqual(ips(back.out, p1), [Pkt.forwarded(Pkt.udpPacket(src: remote, dst: c, sport: 53, dport: 40000, [9, 9, 9]))])
        XCTAssertEqual(back.counters, [:])
        XCTAssertEqual(nat.statistics().udpSessions, 1)
        XCTAssertEqual(nat.statistics().udpPortsInUse, 1)

        // A second packet of the flow uses the same port.
        let again = send([Pkt.udpPacket(src: c, dst: remote, sport: 40000, dport: 53, [1])], on: p1)
        XCTAssertEqual(ips(again.out, p2), [Pkt.forwarded(Pkt.udpPacket(src: outside, dst: remote, sport: port, dport: 53, [1]))])
    }

    func testZeroUDPChecksumStaysZero() {
        let ip = Pkt.ipv4(src: c, dst: remote, proto: 17, payload: Pkt.udpc(src: c, dst: remote, sport: 1234, dport: 99, [5, 5], zeroChecksum: true))
        let out = ips(send([ip], on: p1).out, p2)
        XCTAssertEqual(out.count, 1)
        XCTAssertEqual(Pkt.u16(out[0], 26), 0)
        let port = sourcePort(out[0])
        XCTAssertEqual(out[0], Pkt.forwarded(Pkt.ipv4(src: outside, dst: remote, proto: 17,
                                                      payload: Pkt.udpc(src: outside, dst: remote, sport: port, dport: 99, [5, 5], zeroChecksum: true))))
    }

    func testTCPTranslatedBothWaysByteExact() {
        let syn = send([Pkt.tcpPacket(src: c, dst: remote, sport: 33000, dport: 443, flags: 0x02)], on: p1)
        let out = ips(syn.out, p2)
        XCTAssertEqual(out.count, 1)
        let port = sourcePort(out[0])
        XCTAssertEqual(out[0], Pkt.forwarded(Pkt.tcpPacket(src: outside, dst: remote, sport: port, dport: 443, flags: 0x02)))
        XCTAssertTrue(Pkt.allChecksumsValid(out[0]))
        XCTAssertEqual(nat.sessions(limit: 10).first?.state, "tcp-transitory")

        let synAck = send([Pkt.tcpPacket(src: remote, dst: outside, sport: 443, dport: port, flags: 0x12)], on: p2)
        XCTAssertEqual(ips(synAck.out, p1), [Pkt.forwarded(Pkt.tcpPacket(src: remote, dst: c, sport: 443, dport: 33000, flags: 0x12))])
        XCTAssertEqual(nat.sessions(limit: 10).first?.state, "tcp-established")

        let ack = send([Pkt.tcpPacket(src: c, dst: remote, sport: 33000, dport: 443, flags: 0x10)], on: p1)
        XCTAssertEqual(ips(ack.out, p2), [Pkt.forwarded(Pkt.tcpPacket(src: outside, dst: remote, sport: port, dport: 443, flags: 0x10))])
        XCTAssertEqual(nat.statistics().tcpSessions, 1)
    }

    func testICMPEchoTranslatedBothWaysByteExact() {
        let r = send([Pkt.echo(src: c, dst: remote, id: 0x1234, seq: 7)], on: p1)
        let out = ips(r.out, p2)
        XCTAssertEqual(out.count, 1)
        let id = sourcePort(out[0])
        XCTAssertEqual(out[0], Pkt.forwarded(Pkt.echo(src: outside, dst: remote, id: id, seq: 7)))
        XCTAssertTrue(Pkt.allChecksumsValid(out[0]))
        let reply = send([Pkt.echo(src: remote, dst: outside, type: 0, id: id, seq: 7)], on: p2)
        XCTAssertEqual(ips(reply.out, p1), [Pkt.forwarded(Pkt.echo(src: remote, dst: c, type: 0, id: 0x1234, seq: 7))])
        XCTAssertEqual(nat.statistics().icmpSessions, 1)
    }

    func testManyFlowsTranslateByteExactWithDistinctPorts() {
        var sent: [[UInt8]] = []
        for i in 0..<257 {
            let data = (0..<(i % 13)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            sent.append(i % 2 == 0 ? Pkt.udpPacket(src: c, dst: remote &+ UInt32(i % 5), sport: UInt16(1000 + i), dport: 53, data)
                                   : Pkt.tcpPacket(src: d, dst: remote, sport: UInt16(2000 + i), dport: 80, flags: 0x02))
        }
        let r = send(sent, on: p1)
        let out = ips(r.out, p2)
        XCTAssertEqual(out.count, 257)
        // Endpoint-dependent: (port, remote endpoint) is unique per protocol.
        var udpPorts = Set<[UInt32]>(), tcpPorts = Set<[UInt32]>()
        for (i, o) in out.enumerated() {
            let port = sourcePort(o)
            let data = (0..<(i % 13)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            let expected = i % 2 == 0 ? Pkt.udpPacket(src: outside, dst: remote &+ UInt32(i % 5), sport: port, dport: 53, data)
                                      : Pkt.tcpPacket(src: outside, dst: remote, sport: port, dport: 80, flags: 0x02)
            XCTAssertEqual(o, Pkt.forwarded(expected), "flow \(i)")
            let key = [UInt32(port), Pkt.u32(o, 16)]
            if i % 2 == 0 { udpPorts.insert(key) } else { tcpPorts.insert(key) }
        }
        XCTAssertEqual(udpPorts.count, 129)
        XCTAssertEqual(tcpPorts.count, 128)
        XCTAssertEqual(r.counters, ["nat44-in2out/sessions-created": 257])
    }

    func testBurstsBothWaysKeepOrder() {
        for burst in [1, 255, 256, 257] {
            let base = UInt16(10000 + burst * 100)
            let flows = (0..<burst).map { Pkt.udpPacket(src: c, dst: remote, sport: base + UInt16($0), dport: 53, [UInt8($0 & 0xFF)]) }
            let out = ips(send(flows, on: p1).out, p2)
            XCTAssertEqual(out.count, burst, "burst \(burst)")
            XCTAssertEqual(out.map { $0[28] }, (0..<burst).map { UInt8($0 & 0xFF) }, "burst \(burst): order kept")
            let replies = out.map { Pkt.udpPacket(src: remote, dst: outside, sport: 53, dport: sourcePort($0), [$0[28]]) }
            let back = ips(send(replies, on: p2).out, p1)
            XCTAssertEqual(back, (0..<burst).map { Pkt.forwarded(Pkt.udpPacket(src: remote, dst: c, sport: 53, dport: base + UInt16($0), [UInt8($0 & 0xFF)])) },
                           "burst \(burst): back to each flow's port, in order")
        }
    }

    // MARK: ICMP errors

    func testICMPErrorFromOutsideAboutATranslatedUDPFlowIsTranslatedBack() {
        let orig = Pkt.udpPacket(src: c, dst: remote, sport: 40000, dport: 53, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        let out = ips(send([orig], on: p1).out, p2)
        XCTAssertEqual(out.count, 1)
        let port = sourcePort(out[0])
        // The remote answers port unreachable, quoting the header + 8 bytes it received.
        let quotedOut = Array(out[0].prefix(28))
        let err = Pkt.ipv4(src: remote, dst: outside, proto: 1, ttl: 60, id: 77, payload: Pkt.icmp(type: 3, code: 3, quotedOut))
        let r = send([err], on: p2)
        let back = ips(r.out, p1)
        XCTAssertEqual(back.count, 1)
        // What C must see: the error about the packet it sent (as forwarded: TTL 63).
        let quotedIn = Array(Pkt.forwarded(orig).prefix(28))
        XCTAssertEqual(back.first, Pkt.forwarded(Pkt.ipv4(src: remote, dst: c, proto: 1, ttl: 60, id: 77,
                                                          payload: Pkt.icmp(type: 3, code: 3, quotedIn))))
        XCTAssertTrue(back.first.map(Pkt.allChecksumsValid) ?? false)
        XCTAssertEqual(r.counters, ["nat44-out2in/icmp-error-translated": 1])
        _ = port
    }

    func testICMPErrorFromOutsideAboutEchoAndFromARouterOnThePath() {
        let orig = Pkt.echo(src: c, dst: remote, id: 0x0BAD, seq: 3, ttl: 2)
        let out = ips(send([orig], on: p1).out, p2)
        XCTAssertEqual(out.count, 1)
        // Time exceeded from a router on the way (not the remote itself), quoting the whole echo.
        let hop = Pkt.ip("203.0.113.9")
        let err = Pkt.ipv4(src: hop, dst: outside, proto: 1, payload: Pkt.icmp(type: 11, code: 0, out[0]))
        let back = ips(send([err], on: p2).out, p1)
        XCTAssertEqual(back, [Pkt.forwarded(Pkt.ipv4(src: hop, dst: c, proto: 1, payload: Pkt.icmp(type: 11, code: 0, Pkt.forwarded(orig))))])
    }

    func testICMPErrorFromInsideAboutAnInboundFlowIsTranslated() {
        let out = ips(send([Pkt.udpPacket(src: c, dst: remote, sport: 40000, dport: 53)], on: p1).out, p2)
        let port = sourcePort(out[0])
        let reply = Pkt.udpPacket(src: remote, dst: outside, sport: 53, dport: port, [4, 4, 4, 4, 4, 4, 4, 4, 4])
        let delivered = ips(send([reply], on: p2).out, p1)
        XCTAssertEqual(delivered.count, 1)
        // C answers port unreachable about what it received.
        let err = Pkt.ipv4(src: c, dst: remote, proto: 1, payload: Pkt.icmp(type: 3, code: 3, Array(delivered[0].prefix(28))))
        let r = send([err], on: p1)
        let sent = ips(r.out, p2)
        let quoted = Array(Pkt.forwarded(reply).prefix(28))      // as the remote sent it, TTL as the router forwarded it
        XCTAssertEqual(sent, [Pkt.forwarded(Pkt.ipv4(src: outside, dst: remote, proto: 1, payload: Pkt.icmp(type: 3, code: 3, quoted)))])
        XCTAssertTrue(sent.first.map(Pkt.allChecksumsValid) ?? false)
        XCTAssertEqual(r.counters, ["nat44-in2out/icmp-error-translated": 1])
    }

    func testICMPErrorQuotingAWholeTCPSegmentTranslatesItsChecksumToo() {
        let orig = Pkt.tcpPacket(src: c, dst: remote, sport: 33000, dport: 443, flags: 0x18)
        let out = ips(send([orig], on: p1).out, p2)
        XCTAssertEqual(out.count, 1)
        let err = Pkt.ipv4(src: remote, dst: outside, proto: 1, payload: Pkt.icmp(type: 3, code: 4, rest: 1400, out[0]))
        let back = ips(send([err], on: p2).out, p1)
        XCTAssertEqual(back, [Pkt.forwarded(Pkt.ipv4(src: remote, dst: c, proto: 1, payload: Pkt.icmp(type: 3, code: 4, rest: 1400, Pkt.forwarded(orig))))])
        // The quoted TCP checksum verifies again against the inside addresses.
        let inner = Array(back[0][28...])
        XCTAssertTrue(Pkt.allChecksumsValid(inner))
    }

    func testICMPErrorAboutAnUnknownFlowPassesUntranslated() {
        // About a packet the router itself sent (no session): ip4-local gets it, nat counts nothing.
        let quoted = Pkt.udpPacket(src: outside, dst: remote, sport: 4789, dport: 4789)
        let err = Pkt.ipv4(src: remote, dst: outside, proto: 1, payload: Pkt.icmp(type: 3, code: 3, Array(quoted.prefix(28))))
        let r = send([err], on: p2)
        XCTAssertNil(r.out[p1])
        XCTAssertFalse(r.counters.keys.contains { $0.hasPrefix("nat44") })
    }

    func testOnePortServesDifferentRemoteEndpoints() throws {
        try build(NAT44Config(portRange: 50000...50000))
        let flows = (0..<3).map { Pkt.udpPacket(src: c, dst: remote &+ UInt32($0), sport: UInt16(1000 + $0), dport: 53) }
        let r = send(flows + [Pkt.udpPacket(src: d, dst: remote, sport: 7, dport: 53)], on: p1)
        XCTAssertEqual(ips(r.out, p2).map(sourcePort), [50000, 50000, 50000])
        XCTAssertEqual(r.counters, ["nat44-in2out/sessions-created": 3, "nat44-in2out/out-of-ports": 1])
        XCTAssertEqual(nat.statistics().udpPortsInUse, 1)
        // Replies are told apart by the remote endpoint.
        for k in 0..<3 {
            let reply = Pkt.udpPacket(src: remote &+ UInt32(k), dst: outside, sport: 53, dport: 50000)
            XCTAssertEqual(ips(send([reply], on: p2).out, p1),
                           [Pkt.forwarded(Pkt.udpPacket(src: remote &+ UInt32(k), dst: c, sport: 53, dport: UInt16(1000 + k)))])
        }
    }

    func testTraceShowsTheTranslation() {
        g.graph.trace.arm(node: g.pgInput.index, count: 1)
        let out = ips(send([Pkt.udpPacket(src: c, dst: remote, sport: 40000, dport: 53)], on: p1).out, p2)
        let port = sourcePort(out[0])
        let node = g.graph.node(named: "nat44-in2out")!
        let lines = g.graph.trace.snapshot().filter { $0.node == node.index }.map { node.formatTrace($0) }
        g.graph.trace.clear()
        XCTAssertEqual(lines, ["nat44-in2out: proto 17 10.0.1.10:40000 -> 198.51.100.7:53 => 192.0.2.1:\(port) -> 198.51.100.7:53 translated"])
    }

    // MARK: limits

    func testOutOfPortsCountsEveryRefusedFlow() throws {
        try build(NAT44Config(portRange: 50000...50003))
        let flows = (0..<7).map { Pkt.udpPacket(src: c, dst: remote, sport: UInt16(1000 + $0), dport: 53) }
        let r = send(flows, on: p1)
        XCTAssertEqual(ips(r.out, p2).count, 4)
        XCTAssertEqual(Set(ips(r.out, p2).map(sourcePort)), [50000, 50001, 50002, 50003])
        XCTAssertEqual(r.counters, ["nat44-in2out/sessions-created": 4, "nat44-in2out/out-of-ports": 3])
        XCTAssertEqual(nat.statistics().refusedOutOfPorts, 3)
        // Ports are per protocol: TCP still has its four.
        let tcp = send((0..<4).map { Pkt.tcpPacket(src: c, dst: remote, sport: UInt16(3000 + $0), dport: 80, flags: 2) }, on: p1)
        XCTAssertEqual(ips(tcp.out, p2).count, 4)
        // Once the UDP sessions expire, their ports are reused.
        g.graph.nowSeconds += 300
        XCTAssertEqual(nat.expire(now: g.graph.nowSeconds), 8, "4 UDP + 4 TCP (transitory, 240 s)")
        let later = send([Pkt.udpPacket(src: c, dst: remote, sport: 999, dport: 53)], on: p1)
        XCTAssertEqual(ips(later.out, p2).count, 1)
    }

    func testSessionLimitFiveWithTenNewFlowsYieldsExactlyFive() throws {
        try build(NAT44Config(maxSessions: 5))
        let flows = (0..<10).map { Pkt.udpPacket(src: c, dst: remote, sport: UInt16(1000 + $0), dport: 53) }
        let r = send(flows, on: p1)
        XCTAssertEqual(ips(r.out, p2).count, 5)
        XCTAssertEqual(r.counters, ["nat44-in2out/sessions-created": 5, "nat44-in2out/session-limit": 5])
        XCTAssertEqual(nat.statistics().sessions, 5)
        XCTAssertEqual(nat.statistics().refusedSessionLimit, 5)
        // Existing flows keep working; once one has expired its slot is reused.
        XCTAssertEqual(ips(send([flows[0]], on: p1).out, p2).count, 1)
        g.graph.nowSeconds += 300
        let r2 = send([Pkt.udpPacket(src: c, dst: remote, sport: 5000, dport: 53)], on: p1)
        XCTAssertEqual(ips(r2.out, p2).count, 1)
        XCTAssertEqual(nat.statistics().sessions, 5)
    }

    // MARK: timeouts

    func testIdleTimeoutsExpireAtTheConfiguredTime() throws {
        try build(NAT44Config(udpTimeout: 30, tcpEstablishedTimeout: 100, tcpTransitoryTimeout: 20, tcpResetTimeout: 5, icmpTimeout: 10))
        let t0 = g.graph.nowSeconds
        _ = send([Pkt.udpPacket(src: c, dst: remote, sport: 1, dport: 53), Pkt.echo(src: c, dst: remote, id: 5),
                  Pkt.tcpPacket(src: c, dst: remote, sport: 2, dport: 80, flags: 2)], on: p1)
        XCTAssertEqual(nat.statistics().sessions, 3)
        XCTAssertEqual(nat.expire(now: t0 + 9), 0)
        XCTAssertEqual(nat.expire(now: t0 + 10), 1, "ICMP after 10 s")
        XCTAssertEqual(nat.statistics().icmpSessions, 0)
        XCTAssertEqual(nat.expire(now: t0 + 19), 0)
        XCTAssertEqual(nat.expire(now: t0 + 20), 1, "TCP SYN only: transitory, 20 s")
        XCTAssertEqual(nat.expire(now: t0 + 29), 0)
        XCTAssertEqual(nat.expire(now: t0 + 30), 1, "UDP after 30 s")
        XCTAssertEqual(nat.statistics().sessions, 0)
        XCTAssertEqual(nat.statistics().expired, 3)
        XCTAssertEqual(nat.statistics().udpPortsInUse + nat.statistics().tcpPortsInUse + nat.statistics().icmpIdsInUse, 0)

        // Traffic refreshes: established TCP lives 100 s from its last packet; a RST cuts it to 5 s.
        let out = ips(send([Pkt.tcpPacket(src: c, dst: remote, sport: 3, dport: 80, flags: 2)], on: p1).out, p2)
        let port = sourcePort(out[0])
        _ = send([Pkt.tcpPacket(src: remote, dst: outside, sport: 80, dport: port, flags: 0x12)], on: p2)
        g.graph.nowSeconds = t0 + 50
        _ = send([Pkt.tcpPacket(src: c, dst: remote, sport: 3, dport: 80, flags: 0x10)], on: p1)
        XCTAssertEqual(nat.sessions(limit: 1).first?.state, "tcp-established")
        XCTAssertEqual(nat.expire(now: t0 + 149), 0)
        g.graph.nowSeconds = t0 + 149
        _ = send([Pkt.tcpPacket(src: remote, dst: outside, sport: 80, dport: port, flags: 0x14)], on: p2)   // RST+ACK
        XCTAssertEqual(nat.sessions(limit: 1).first?.state, "tcp-reset")
        XCTAssertEqual(nat.expire(now: t0 + 153), 0)
        XCTAssertEqual(nat.expire(now: t0 + 154), 1, "RST: 5 s")
    }

    func testExpiredSessionFoundOnLookupIsDeletedAndLateReplyDropped() {
        let out = ips(send([Pkt.udpPacket(src: c, dst: remote, sport: 40000, dport: 53)], on: p1).out, p2)
        let port = sourcePort(out[0])
        g.graph.nowSeconds += 300
        let r = send([Pkt.udpPacket(src: remote, dst: outside, sport: 53, dport: port)], on: p2)
        XCTAssertTrue(r.out.isEmpty)
        XCTAssertEqual(r.counters, ["nat44-out2in/expired-on-lookup": 1, "nat44-out2in/no-session": 1])
        XCTAssertEqual(nat.statistics().sessions, 0)
    }

    // MARK: what is not translated

    func testExcludedAndNonUplinkDestinationsAreNotTranslated() throws {
        nat.setExclusions([IPv4Prefix("203.0.113.0/24")!, IPv4Prefix("10.0.0.0/8")!])
        let toExcluded = Pkt.udpPacket(src: c, dst: Pkt.ip("203.0.113.5"), sport: 1000, dport: 53)
        let toH = Pkt.udpPacket(src: c, dst: h, sport: 1000, dport: 53)
        let r = send([toExcluded, toH], on: p1)
        XCTAssertEqual(ips(r.out, p2), [Pkt.forwarded(toExcluded)], "excluded: routed out untranslated")
        XCTAssertEqual(ips(r.out, p3), [Pkt.forwarded(toH)], "not via the uplink: untranslated")
        XCTAssertEqual(r.counters, [:])
        XCTAssertEqual(nat.statistics().sessions, 0)
        // Without the exclusion, a route via the uplink is translated, pg3 still not.
        nat.setExclusions([])
        let r2 = send([toExcluded, toH], on: p1)
        XCTAssertEqual(ips(r2.out, p2).map { Pkt.u32($0, 12) }, [outside])
        XCTAssertEqual(ips(r2.out, p3), [Pkt.forwarded(toH)])
        // Ping of the router's inside address is answered, untranslated.
        let ping = send([Pkt.echo(src: c, dst: r1, id: 9)], on: p1)
        XCTAssertEqual(ips(ping.out, p1).count, 1)
        XCTAssertEqual(ping.counters, ["icmp-echo/replies-sent": 1])
    }

    func testFragmentationNeededOnTheUplinkReachesTheInsideHostTranslatedBack() throws {
        // The uplink's MTU is below the packet: ip4-rewrite refuses it after in2out has
        // translated it, so the error is first addressed to the outside address itself.
        try build(NAT44Config(), outsideMTU: 1280)
        let orig = Pkt.udpPacket(src: c, dst: remote, sport: 40000, dport: 53, [UInt8](repeating: 9, count: 1400))
        var df = orig
        df[6] |= 0x40
        df[10] = 0; df[11] = 0
        let hc = Pkt.checksum(df[0..<20])
        df[10] = UInt8(hc >> 8); df[11] = UInt8(hc & 0xFF)
        let r = send([df], on: p1)
        XCTAssertNil(r.out[p2])
        let back = ips(r.out, p1)
        XCTAssertEqual(back.count, 1, "the error reaches C: \(r.counters)")
        guard let e = back.first else { return }
        XCTAssertTrue(Pkt.allChecksumsValid(e))
        XCTAssertEqual(Array(e[12..<20]), Pkt.be32(r1) + Pkt.be32(c), "from the router's inside address to C")
        XCTAssertEqual(Array(e[20..<22]), [3, 4], "fragmentation needed")
        XCTAssertEqual(Pkt.u16(e, 26), 1280, "naming the uplink's MTU")
        XCTAssertEqual(Array(e[28 + 12..<28 + 20]), Pkt.be32(c) + Pkt.be32(remote), "quoting C's own packet, untranslated")
        XCTAssertEqual(Pkt.u16(e, 28 + 20), 40000, "and its own source port")
        XCTAssertEqual(r.counters["nat44-out2in/icmp-error-translated"], 1, "\(r.counters)")
        XCTAssertEqual(r.counters["ip4-icmp-error/fragmentation-needed-sent"], 1)
    }

    func testTTL1FromInsideGetsTimeExceededFromTheRouterUntranslated() {
        let probe = Pkt.udpPacket(src: c, dst: remote, sport: 33434, dport: 33434, ttl: 1)
        let r = send([probe], on: p1)
        XCTAssertNil(r.out[p2])
        let back = ips(r.out, p1)
        XCTAssertEqual(back, [Pkt.ipv4(src: r1, dst: c, proto: 1, ttl: 64, id: 0, payload: Pkt.icmp(type: 11, code: 0, Array(probe.prefix(28))))])
        XCTAssertEqual(r.counters, ["ip4-rewrite/ttl-expired": 1, "ip4-icmp-error/time-exceeded-sent": 1])
        XCTAssertEqual(nat.statistics().sessions, 0)
    }

    func testRemovingAStaticMappingEndsItsHairpinSessionsToo() throws {
        try nat.addStaticMapping(protocol: 17, externalPort: 5353, internalAddress: c, internalPort: 53)
        _ = send([Pkt.udpPacket(src: d, dst: outside, sport: 1, dport: 5353)], on: p1)
        _ = send([Pkt.udpPacket(src: remote, dst: outside, sport: 1, dport: 5353)], on: p2)
        _ = send([Pkt.udpPacket(src: c, dst: remote, sport: 1, dport: 53)], on: p1)
        XCTAssertEqual(nat.statistics().sessions, 3)
        try nat.removeStaticMapping(protocol: 17, externalPort: 5353)
        XCTAssertEqual(nat.statistics().sessions, 1, "only the dynamic session is left")
        XCTAssertEqual(nat.sessions(limit: 5).first?.remotePort, 53)
    }

    func testNotInsideInterfaceIsNotTranslated() {
        let fromH = Pkt.udpPacket(src: h, dst: remote, sport: 1000, dport: 53)
        let r = send([fromH], on: p3)
        XCTAssertEqual(ips(r.out, p2), [Pkt.forwarded(fromH)])
        nat.setInside(interface: p1, false)
        let fromC = Pkt.udpPacket(src: c, dst: remote, sport: 1000, dport: 53)
        XCTAssertEqual(ips(send([fromC], on: p1).out, p2), [Pkt.forwarded(fromC)])
        XCTAssertEqual(ip4.interfaces.inputFeature[Int(p1)], -1)
    }

    func testFragmentsAndOtherProtocolsToTranslatedDestinationsAreDroppedAndCounted() {
        let frag = Pkt.ipv4(src: c, dst: remote, proto: 17, flags: 0x2000, payload: Pkt.udp([1, 2, 3]))
        let gre = Pkt.ipv4(src: c, dst: remote, proto: 47, payload: [0, 0, 0x08, 0x00])
        let fragToH = Pkt.ipv4(src: c, dst: h, proto: 17, flags: 0x0001, payload: [1, 2, 3, 4, 5, 6, 7, 8])
        let r = send([frag, gre, fragToH], on: p1)
        XCTAssertNil(r.out[p2])
        XCTAssertEqual(ips(r.out, p3), [Pkt.forwarded(fragToH)], "pod-to-pod fragments pass")
        XCTAssertEqual(r.counters, ["nat44-in2out/fragment": 1, "nat44-in2out/unsupported-protocol": 1])
        let inFrag = send([Pkt.ipv4(src: remote, dst: outside, proto: 17, flags: 0x0010, payload: [1, 2, 3, 4, 5, 6, 7, 8])], on: p2)
        XCTAssertEqual(inFrag.counters, ["nat44-out2in/fragment": 1])
    }

    func testUnmatchedDynamicPortIsDroppedWhilePingOfTheRouterIsAnswered() {
        let r = send([Pkt.udpPacket(src: remote, dst: outside, sport: 53, dport: 40001),
                      Pkt.tcpPacket(src: remote, dst: outside, sport: 1, dport: 60000, flags: 2),
                      Pkt.echo(src: remote, dst: outside, type: 0, id: 45000)], on: p2)
        XCTAssertTrue(r.out.isEmpty)
        XCTAssertEqual(r.counters, ["nat44-out2in/no-session": 3])
        let echo = Pkt.echo(src: remote, dst: outside, id: 40000, seq: 1)
        let ping = send([echo], on: p2)
        XCTAssertEqual(ping.counters, ["icmp-echo/replies-sent": 1])
        let reply = ips(ping.out, p2)
        XCTAssertEqual(reply.count, 1)
        XCTAssertEqual(reply.first.map { Pkt.u32($0, 16) }, remote)
        XCTAssertTrue(reply.first.map(Pkt.allChecksumsValid) ?? false)
        // A port below the dynamic range (a local service, e.g. VXLAN 4789) passes on to ip4-local.
        let vxlan = send([Pkt.udpPacket(src: remote, dst: outside, sport: 4789, dport: 4789)], on: p2)
        XCTAssertFalse(vxlan.counters.keys.contains { $0.hasPrefix("nat44") })
        // Packets that are not for the outside address pass (routed, untranslated).
        let transit = Pkt.udpPacket(src: remote, dst: h, sport: 1, dport: 40001)
        XCTAssertEqual(ips(send([transit], on: p2).out, p3), [Pkt.forwarded(transit)])
    }

    // MARK: static mappings and hairpinning

    func testStaticMappingReachesTheContainerAndTheReplyGoesOutTranslated() throws {
        try nat.addStaticMapping(protocol: 6, externalPort: 8080, internalAddress: c, internalPort: 80)
        let syn = Pkt.tcpPacket(src: remote, dst: outside, sport: 5555, dport: 8080, flags: 2)
        let r = send([syn], on: p2)
        XCTAssertEqual(ips(r.out, p1), [Pkt.forwarded(Pkt.tcpPacket(src: remote, dst: c, sport: 5555, dport: 80, flags: 2))])
        XCTAssertEqual(r.counters, ["nat44-out2in/sessions-created": 1])
        let synAck = Pkt.tcpPacket(src: c, dst: remote, sport: 80, dport: 5555, flags: 0x12)
        let r2 = send([synAck], on: p1)
        XCTAssertEqual(ips(r2.out, p2), [Pkt.forwarded(Pkt.tcpPacket(src: outside, dst: remote, sport: 8080, dport: 5555, flags: 0x12))])
        XCTAssertEqual(r2.counters, [:])
        XCTAssertEqual(nat.sessions(limit: 5).first?.isStatic, true)
        // UDP is a different mapping: no session.
        XCTAssertEqual(send([Pkt.udpPacket(src: remote, dst: outside, sport: 5555, dport: 8080)], on: p2).counters.keys.contains("nat44-out2in/sessions-created"), false)
        XCTAssertThrowsError(try nat.addStaticMapping(protocol: 6, externalPort: 8080, internalAddress: d, internalPort: 80))
        XCTAssertThrowsError(try nat.addStaticMapping(protocol: 1, externalPort: 1, internalAddress: d, internalPort: 80))
        try nat.removeStaticMapping(protocol: 6, externalPort: 8080)
        XCTAssertEqual(nat.statistics().sessions, 0, "its sessions go with it")
        XCTAssertThrowsError(try nat.removeStaticMapping(protocol: 6, externalPort: 8080))
        XCTAssertTrue(send([syn], on: p2).out[p1] == nil)
    }

    func testStaticMappingInTheDynamicRangeIsNeverHandedOut() throws {
        try build(NAT44Config(portRange: 50000...50001))
        try nat.addStaticMapping(protocol: 17, externalPort: 50000, internalAddress: d, internalPort: 53)
        let r = send([Pkt.udpPacket(src: c, dst: remote, sport: 1, dport: 53), Pkt.udpPacket(src: c, dst: remote, sport: 2, dport: 53)], on: p1)
        XCTAssertEqual(ips(r.out, p2).map(sourcePort), [50001])
        XCTAssertEqual(r.counters["nat44-in2out/out-of-ports"], 1)
    }

    func testHairpinToAStaticMappingAndBack() throws {
        try nat.addStaticMapping(protocol: 6, externalPort: 8080, internalAddress: c, internalPort: 80)
        // D reaches C's service through the outside address.
        let syn = Pkt.tcpPacket(src: d, dst: outside, sport: 4444, dport: 8080, flags: 2)
        let r = send([syn], on: p1)
        let toC = ips(r.out, p1)
        XCTAssertEqual(toC.count, 1)
        let port = sourcePort(toC[0])
        XCTAssertEqual(toC.first, Pkt.forwarded(Pkt.tcpPacket(src: outside, dst: c, sport: port, dport: 80, flags: 2)))
        XCTAssertEqual(r.counters, ["nat44-in2out/sessions-created": 1, "nat44-in2out/hairpinned": 1])
        // C's reply goes to the outside address and comes back to D from the mapping.
        let synAck = Pkt.tcpPacket(src: c, dst: outside, sport: 80, dport: port, flags: 0x12)
        let r2 = send([synAck], on: p1)
        XCTAssertEqual(ips(r2.out, p1), [Pkt.forwarded(Pkt.tcpPacket(src: outside, dst: d, sport: 8080, dport: 4444, flags: 0x12))])
        XCTAssertEqual(r2.counters, ["nat44-in2out/hairpinned": 1])
        // D's next segment uses the same session.
        let ack = send([Pkt.tcpPacket(src: d, dst: outside, sport: 4444, dport: 8080, flags: 0x10)], on: p1)
        XCTAssertEqual(ips(ack.out, p1), [Pkt.forwarded(Pkt.tcpPacket(src: outside, dst: c, sport: port, dport: 80, flags: 0x10))])
        XCTAssertEqual(nat.sessions(limit: 5).first?.isHairpin, true)
        XCTAssertEqual(nat.statistics().sessions, 1)
    }

    // MARK: control

    func testOutsideAddressChangeFlushesAndClearTurnsNATOff() {
        _ = send([Pkt.udpPacket(src: c, dst: remote, sport: 1, dport: 53)], on: p1)
        XCTAssertEqual(nat.statistics().sessions, 1)
        nat.setOutside(interface: p2, address: outside)
        XCTAssertEqual(nat.statistics().sessions, 1, "same address: kept")
        nat.clearOutside()
        XCTAssertEqual(nat.statistics().sessions, 0)
        XCTAssertEqual(ip4.interfaces.inputFeature[Int(p2)], -1)
        let ip = Pkt.udpPacket(src: c, dst: remote, sport: 1, dport: 53)
        let r = send([ip], on: p1)
        XCTAssertEqual(ips(r.out, p2), [Pkt.forwarded(ip)], "NAT off: untranslated")
        XCTAssertEqual(r.counters, [:])
    }

    func testSessionTableChurnKeepsIndexesConsistent() throws {
        // Many create/expire rounds through a small table: backward-shift deletion and the port pool stay consistent.
        try build(NAT44Config(maxSessions: 64, portRange: 40000...40100, udpTimeout: 1))
        for round in 0..<20 {
            let flows = (0..<64).map { Pkt.udpPacket(src: c, dst: remote &+ UInt32(round), sport: UInt16(1 + $0 &* 7 + round), dport: 53) }
            let r = send(flows, on: p1)
            XCTAssertEqual(ips(r.out, p2).count, 64, "round \(round)")
            XCTAssertEqual(Set(ips(r.out, p2).map(sourcePort)).count, 64)
            // Every flow still finds its session.
            XCTAssertEqual(send(flows, on: p1).counters, [:], "round \(round)")
            g.graph.nowSeconds += 1
            XCTAssertEqual(nat.expire(now: g.graph.nowSeconds, budget: 1000), 64)
        }
        XCTAssertEqual(nat.statistics().sessions, 0)
        XCTAssertEqual(nat.statistics().udpPortsInUse, 0)
    }
}
