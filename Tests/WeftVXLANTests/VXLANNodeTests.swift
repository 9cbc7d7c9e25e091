import XCTest
import WeftTestSupport
import WeftEngine
import WeftIO
import WeftIP4
import WeftL2
import WeftPacket
@testable import WeftVXLAN

/// The VXLAN dataplane driven by pg: frames in on pg interfaces, byte-exact
/// frames out per interface, every drop under its named counter.
///
/// Topology: bridge domain 1 holds pg port c1 (a container) and a tunnel
/// (VNI 42) to the remote VTEP R = 192.0.2.2 over the underlay pg port up0 =
/// 192.0.2.1/24, with R's MAC as a static neighbour.
final class VXLANNodeTests: XCTestCase {
    var g: EmbeddedGraph!
    var l2: L2Feature!
    var ip4: IP4Feature!
    var vx: VXLANFeature!
    var c1: UInt32 = 0, up0: UInt32 = 0, t1: UInt32 = 0

    let upMAC: UInt64 = 0x02_00_00_00_00_01
    let remoteMAC: UInt64 = 0x02_EE_00_00_00_02
    let aMAC: UInt64 = 0x02_AA_00_00_00_0A          // container behind c1
    let bMAC: UInt64 = 0x02_BB_00_00_00_0B          // container on the remote node
    let local = Pkt.ip("192.0.2.1"), remote = Pkt.ip("192.0.2.2")
    let a = Pkt.ip("10.10.0.10"), b = Pkt.ip("10.10.0.11")

    override func setUpWithError() throws {
        let l2 = L2Feature(macTableCapacity: 4096)
        let ip4 = try IP4Feature(fibTables: 4, groupCapacity: 1024, adjacencyCapacity: 1024, neighbourCapacity: 1024)
        let vx = VXLANFeature(ip4: ip4, l2: l2)
        self.l2 = l2; self.ip4 = ip4; self.vx = vx
        g = try EmbeddedGraph { l2.register(in: $0); ip4.register(in: $0); vx.register(in: $0) }
        g.pgOutput.captureEnabled = true
        c1 = g.addInterface("c1")
        up0 = g.addInterface("up0")
        l2.domains.create(id: 1, learnLimit: 10_000, macAgeSeconds: 0)
        XCTAssertTrue(l2.attach(c1, to: 1, interfaces: g.interfaces))
        try ip4.setAddress(local, prefixLength: 24, interface: up0, mac: upMAC)
        try ip4.addNeighbour(remote, mac: remoteMAC, interface: up0)
        t1 = try vx.createTunnel(name: "vxlan_tunnel0", local: local, remote: remote, vni: 42, bridgeDomain: 1, mtu: 1500)
    }

    override func tearDown() {
        g.run()
        XCTAssertEqual(g.graph.framesInUse, 0)
        XCTAssertEqual(g.buffersInFlight, 0, "no buffer leaked")
    }

    // MARK: helpers

    func counters() -> [String: UInt64] { g.counters() }

    func delta(_ before: [String: UInt64]) -> [String: UInt64] { g.counterDelta(since: before) }

    func send(_ frames: [[UInt8]], on rx: UInt32, flags: BufferFlags = []) -> (out: [UInt32: [[UInt8]]], counters: [String: UInt64]) {
        g.send(frames, on: rx, flags: flags)
    }

    /// Counters that only report (not drops) on the paths under test.
    func drops(_ c: [String: UInt64]) -> [String: UInt64] {
        c.filter { !["l2-learn/learned", "l2-fwd/unknown-unicast", "l2-learn/moved"].contains($0.key) }
    }

    static func vxlan(vni: UInt32, flags: UInt8 = 0x08) -> [UInt8] {
        [flags, 0, 0, 0, UInt8(vni >> 16 & 0xFF), UInt8(vni >> 8 & 0xFF), UInt8(vni & 0xFF), 0]
    }

    /// An inner Ethernet + IPv4 + UDP frame.
    func inner(dst: UInt64, src: UInt64, from: UInt32? = nil, to: UInt32? = nil, sport: UInt16 = 40000, payload: Int = 18) -> [UInt8] {
        Pkt.ether(dst: dst, src: src, Pkt.ipv4(src: from ?? a, dst: to ?? b, payload: Pkt.udp(sport: sport, dport: 7, (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7) })))
    }

    /// A VXLAN packet from VTEP `from` to us carrying `frame`.
    func encapsulated(_ frame: [UInt8], from: UInt32? = nil, vni: UInt32 = 42, flags: UInt8 = 0x08, port: UInt16 = 4789,
                      srcMAC: UInt64? = nil, sport: UInt16 = 50000) -> [UInt8] {
        Pkt.ether(dst: upMAC, src: srcMAC ?? remoteMAC,
                  Pkt.ipv4(src: from ?? remote, dst: local, proto: 17, payload: Pkt.udp(sport: sport, dport: port, Self.vxlan(vni: vni, flags: flags) + frame)))
    }

    /// What vxlan4-encap + ip4-rewrite must produce for `frame` sent to `to` with UDP source port `sport`.
    func expectedEncap(_ frame: [UInt8], to: UInt32, toMAC: UInt64, vni: UInt32 = 42, sport: UInt16) -> [UInt8] {
        Pkt.ether(dst: toMAC, src: upMAC,
                  Pkt.ipv4(src: local, dst: to, proto: 17, ttl: 64, id: 0, flags: 0,
                           payload: Pkt.udp(sport: sport, dport: 4789, Self.vxlan(vni: vni) + frame)))
    }

    static func sourcePort(_ out: [UInt8]) -> UInt16 { UInt16(out[34]) << 8 | UInt16(out[35]) }

    // MARK: encap

    func testEncapByteExact() {
        let frame = inner(dst: bMAC, src: aMAC, payload: 100)
        let r = send([frame], on: c1)
        XCTAssertNil(r.out[c1])
        guard let out = r.out[up0]?.first, r.out[up0]?.count == 1 else { return XCTFail("one frame out on up0: \(r.out)") }
        let sport = Self.sourcePort(out)
        XCTAssertTrue((49152...65535).contains(sport))
        XCTAssertEqual(out, expectedEncap(frame, to: remote, toMAC: remoteMAC, sport: sport))
        // Independent checks of the fields the expectation builder also computes.
        XCTAssertEqual(Pkt.checksum(out[14..<34]), 0, "outer IPv4 header checksum verifies")
        XCTAssertEqual(Array(out[12..<14]), [0x08, 0x00])
        XCTAssertEqual(Int(out[16]) << 8 | Int(out[17]), 36 + frame.count, "IPv4 total length")
        XCTAssertEqual(out[22], 64, "TTL")
        XCTAssertEqual(Array(out[36..<38]), [0x12, 0xB5], "UDP destination port 4789")
        XCTAssertEqual(Int(out[38]) << 8 | Int(out[39]), 16 + frame.count, "UDP length")
        XCTAssertEqual(Array(out[40..<42]), [0, 0], "UDP checksum 0")
        XCTAssertEqual(Array(out[42..<50]), [0x08, 0, 0, 0, 0, 0, 42, 0], "flags I, VNI 42")
        XCTAssertEqual(Array(out[50...]), frame, "inner frame unchanged")
        XCTAssertEqual(drops(r.counters), [:])
        XCTAssertEqual(g.interfaces.txPackets[Int(t1)], 1)
        XCTAssertEqual(g.interfaces.txBytes[Int(t1)], UInt64(frame.count))

        // Same flow, same source port; the port moves with the flow.
        let again = send([frame, frame], on: c1).out[up0] ?? []
        XCTAssertEqual(again.map(Self.sourcePort), [sport, sport])
        var ports = Set<UInt16>()
        for k in 0..<64 {
            let o = send([inner(dst: bMAC, src: aMAC, sport: UInt16(1000 + k))], on: c1).out[up0]!
            let p = Self.sourcePort(o[0])
            XCTAssertTrue((49152...65535).contains(p))
            ports.insert(p)
        }
        XCTAssertGreaterThan(ports.count, 32, "inner ports spread over outer source ports")
    }

    func testEncapOfManyFramesMatchesFullRecomputation() {
        // Inner frames of 60...1464 bytes (outer packets up to the 1500-byte
        // underlay MTU), in bursts of 1, 255, 256, 257.
        for burst in [1, 255, 256, 257] {
            let frames = (0..<burst).map { k in inner(dst: bMAC, src: aMAC, sport: UInt16(k), payload: 18 + (k * 37) % 1390) }
            let r = send(frames, on: c1)
            let out = r.out[up0] ?? []
            XCTAssertEqual(out.count, burst)
            XCTAssertEqual(drops(r.counters), [:])
            var mismatches = 0
            for (f, o) in zip(frames, out) where o != expectedEncap(f, to: remote, toMAC: remoteMAC, sport: Self.sourcePort(o)) {
                mismatches += 1
            }
            XCTAssertEqual(mismatches, 0, "burst \(burst)")
        }
    }

    // MARK: decap

    func testDecapByteExactAndLearnsOnTheTunnel() {
        let frame = inner(dst: aMAC, src: bMAC, from: b, to: a, payload: 77)
        let r = send([encapsulated(frame)], on: up0)
        XCTAssertEqual(r.out[c1], [frame])
        XCTAssertNil(r.out[up0])
        XCTAssertEqual(l2.macTable.lookup(domain: 1, mac: bMAC), t1, "inner source learned against the tunnel")
        XCTAssertEqual(g.interfaces.rxPackets[Int(t1)], 1)
        XCTAssertEqual(g.interfaces.rxBytes[Int(t1)], UInt64(frame.count))
        XCTAssertEqual(drops(r.counters), [:])

        // The answer now goes straight to the tunnel (known unicast), byte-exact.
        let reply = inner(dst: bMAC, src: aMAC, from: a, to: b)
        let r2 = send([reply], on: c1)
        XCTAssertEqual(r2.counters["l2-fwd/unknown-unicast"], nil)
        let o = r2.out[up0]!
        XCTAssertEqual(o, [expectedEncap(reply, to: remote, toMAC: remoteMAC, sport: Self.sourcePort(o[0]))])
    }

    func testDecapOfVLANTaggedInnerFrame() {
        let ip = Pkt.ipv4(src: b, dst: a, payload: Pkt.udp([1, 2, 3, 4]))
        let tagged = Pkt.mac(aMAC) + Pkt.mac(bMAC) + [0x81, 0x00, 0x00, 0x07, 0x08, 0x00] + ip
        let r = send([encapsulated(tagged)], on: up0)
        XCTAssertEqual(r.out[c1], [tagged], "tag carried through unchanged")
    }

    // MARK: flooding and split horizon

    func testBroadcastFromALocalPortReachesEveryTunnelOnly() throws {
        let r2 = Pkt.ip("192.0.2.3"), r3 = Pkt.ip("192.0.2.4")
        let m2: UInt64 = 0x02_EE_00_00_00_03, m3: UInt64 = 0x02_EE_00_00_00_04
        try ip4.addNeighbour(r2, mac: m2, interface: up0)
        try ip4.addNeighbour(r3, mac: m3, interface: up0)
        let t2 = try vx.createTunnel(name: "vxlan_tunnel1", local: local, remote: r2, vni: 42, bridgeDomain: 1, mtu: 1500)
        let t3 = try vx.createTunnel(name: "vxlan_tunnel2", local: local, remote: r3, vni: 42, bridgeDomain: 1, mtu: 1500)

        let bcast = Pkt.padded(Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: aMAC, type: 0x0806,
                                          Pkt.arp(op: 1, sha: aMAC, spa: a, tha: 0, tpa: b)))
        let r = send([bcast], on: c1)
        let out = r.out[up0] ?? []
        XCTAssertEqual(out.count, 3, "one encapsulated copy per tunnel (head-end replication)")
        var seen: [UInt32: [UInt8]] = [:]
        for o in out {
            let dst = UInt32(o[30]) << 24 | UInt32(o[31]) << 16 | UInt32(o[32]) << 8 | UInt32(o[33])
            seen[dst] = o
        }
        XCTAssertEqual(Set(seen.keys), [remote, r2, r3])
        for (dst, mac) in [(remote, remoteMAC), (r2, m2), (r3, m3)] {
            guard let o = seen[dst] else { continue }
            XCTAssertEqual(o, expectedEncap(bcast, to: dst, toMAC: mac, sport: Self.sourcePort(o)))
        }
        XCTAssertNil(r.out[c1])
        XCTAssertEqual([t1, t2, t3].map { g.interfaces.txPackets[Int($0)] }, [1, 1, 1])
        XCTAssertEqual(drops(r.counters), [:])

        // A broadcast from one tunnel reaches c1 only: never another tunnel.
        let fromTunnel = Pkt.padded(Pkt.ether(dst: 0xFFFF_FFFF_FFFF, src: bMAC, type: 0x0806,
                                              Pkt.arp(op: 1, sha: bMAC, spa: b, tha: 0, tpa: a)))
        let back = send([encapsulated(fromTunnel, from: r2, srcMAC: m2)], on: up0)
        XCTAssertEqual(back.out[c1], [fromTunnel])
        XCTAssertNil(back.out[up0], "split horizon: nothing back into the overlay")
        XCTAssertEqual(l2.macTable.lookup(domain: 1, mac: bMAC), t2)
        XCTAssertEqual(drops(back.counters), [:])
    }

    func testKnownUnicastBetweenTunnelsIsDroppedUnderSplitHorizon() throws {
        let r2 = Pkt.ip("192.0.2.3")
        try ip4.addNeighbour(r2, mac: 0x02_EE_00_00_00_03, interface: up0)
        let t2 = try vx.createTunnel(name: "vxlan_tunnel1", local: local, remote: r2, vni: 42, bridgeDomain: 1, mtu: 1500)
        let cMAC: UInt64 = 0x02_CC_00_00_00_0C
        _ = send([encapsulated(inner(dst: aMAC, src: cMAC))], on: up0)      // cMAC learned on t1
        XCTAssertEqual(l2.macTable.lookup(domain: 1, mac: cMAC), t1)
        let r = send([encapsulated(inner(dst: cMAC, src: bMAC), from: r2)], on: up0)
        XCTAssertEqual(l2.macTable.lookup(domain: 1, mac: bMAC), t2)
        XCTAssertNil(r.out[up0])
        XCTAssertEqual(drops(r.counters), ["l2-fwd/split-horizon": 1])
    }

    // MARK: drops

    func testMalformedVXLANIsDroppedUnderItsOwnCounter() {
        let frame = inner(dst: aMAC, src: bMAC)
        let n = 5
        func check(_ frames: [[UInt8]], _ counter: String, file: StaticString = #filePath, line: UInt = #line) {
            let r = send(frames, on: up0)
            XCTAssertEqual(r.counters, [counter: UInt64(frames.count)], file: file, line: line)
            XCTAssertNil(r.out[c1], file: file, line: line)
            XCTAssertNil(r.out[up0], file: file, line: line)
        }
        check(Array(repeating: encapsulated(frame, flags: 0x00), count: n), "vxlan4-input/bad-flags")
        check(Array(repeating: encapsulated(frame, flags: 0xF7), count: n), "vxlan4-input/bad-flags")
        check(Array(repeating: encapsulated(frame, vni: 43), count: n), "vxlan4-input/unknown-vni")
        check(Array(repeating: encapsulated(frame, from: Pkt.ip("192.0.2.9")), count: n), "vxlan4-input/unknown-vtep")
        // Outer too short for UDP + VXLAN + 14 bytes of inner Ethernet.
        check(Array(repeating: Pkt.padded(encapsulated(Array(frame[0..<13]))), count: n), "vxlan4-input/truncated")
        // UDP length claims more than the IPv4 packet holds: a UDP error, caught
        // by ip4-local before any UDP listener sees it.
        var long = encapsulated(frame)
        let udpLen = Int(long[38]) << 8 | Int(long[39]) + 1
        long[38] = UInt8(udpLen >> 8); long[39] = UInt8(udpLen & 0xFF)
        check(Array(repeating: long, count: n), "ip4-local/udp-bad-length")
        // Reserved flag bits are ignored on receipt (RFC 7348).
        let r = send([encapsulated(frame, flags: 0xFF)], on: up0)
        XCTAssertEqual(r.out[c1], [frame])
    }

    func testUDPToAnotherPortStillGetsPortUnreachable() {
        let r = send([encapsulated(inner(dst: aMAC, src: bMAC), port: 4790)], on: up0)
        XCTAssertEqual(r.counters, ["ip4-local/udp-no-listener": 1, "ip4-icmp-error/unreachable-sent": 1])
        XCTAssertEqual(r.out[up0]?.count, 1, "ICMP port unreachable sent back")
    }

    /// A kernel `vxlan` device over a veth with checksum offload leaves the inner
    /// TCP checksum partial (the pseudo-header sum only) and the packet socket
    /// marks the whole frame TP_STATUS_CSUMNOTREADY: the mark must survive
    /// decapsulation so the output completes the inner checksum (issue 18.1:
    /// the flag used to be cleared here, and the pod got a broken SYN-ACK).
    func testPartialInnerChecksumSurvivesDecapsulation() {
        var seg = Pkt.tcp(src: b, dst: a, sport: 5201, dport: 40000, seq: 77, ack: 9, flags: 0x12, [1, 2, 3, 4, 5, 6, 7])
        let complete = Pkt.ether(dst: aMAC, src: bMAC, Pkt.ipv4(src: b, dst: a, proto: 6, payload: seg))
        // Partial: the field holds the folded pseudo-header sum, not the checksum.
        let pseudo = ~Pkt.checksum(Pkt.be32(b) + Pkt.be32(a) + [0, 6] + Pkt.be16(UInt16(seg.count)))
        seg[16] = UInt8(pseudo >> 8); seg[17] = UInt8(pseudo & 0xFF)
        let partial = Pkt.ether(dst: aMAC, src: bMAC, Pkt.ipv4(src: b, dst: a, proto: 6, payload: seg))
        XCTAssertNotEqual(partial, complete)
        _ = send([inner(dst: bMAC, src: aMAC)], on: c1)  // learn aMAC on c1
        let r = send([encapsulated(partial)], on: up0, flags: .l4ChecksumPending)
        XCTAssertEqual(drops(r.counters), [:])
        XCTAssertEqual(r.out[c1], [complete], "the inner TCP checksum is completed on the way out")
    }

    /// RFC 1122 4.1.3.4: a wrong non-zero UDP checksum is discarded; zero means
    /// none; a frame the sender left partial has nothing to verify yet.
    func testOuterUDPChecksumIsVerified() {
        // An inner checksum already complete: completing it again changes nothing.
        let frame = Pkt.ether(dst: aMAC, src: bMAC, Pkt.udpPacket(src: b, dst: a, sport: 7, dport: 40000))
        _ = send([inner(dst: bMAC, src: aMAC)], on: c1)
        func withChecksum(_ fix: (inout [UInt8]) -> Void) -> [UInt8] {
            var u = Pkt.udpc(src: remote, dst: local, sport: 50000, dport: 4789, Self.vxlan(vni: 42) + frame)
            fix(&u)
            return Pkt.ether(dst: upMAC, src: remoteMAC, Pkt.ipv4(src: remote, dst: local, proto: 17, payload: u))
        }
        let good = withChecksum { _ in }
        let bad = withChecksum { $0[7] ^= 0x5A }
        let zero = withChecksum { $0[6] = 0; $0[7] = 0 }
        XCTAssertNotEqual(Pkt.u16(Array(good[34...]), 6), 0)
        var r = send([good, zero], on: up0)
        XCTAssertEqual(drops(r.counters), [:])
        XCTAssertEqual(r.out[c1], [frame, frame])
        r = send([bad, bad, good], on: up0)
        XCTAssertEqual(drops(r.counters), ["vxlan4-input/bad-udp-checksum": 2])
        XCTAssertEqual(r.out[c1], [frame], "the bad ones are not decapsulated")
        r = send([bad], on: up0, flags: .l4ChecksumPending)
        XCTAssertEqual(drops(r.counters), [:], "a checksum not filled in yet is not checked")
        XCTAssertEqual(r.out[c1], [frame])
    }

    func testOversizeInnerFrameIsDroppedUnderMTUExceeded() throws {
        try vx.deleteTunnel(interface: t1)
        t1 = try vx.createTunnel(name: "vxlan_tunnel0", local: local, remote: remote, vni: 42, bridgeDomain: 1, mtu: 1450)
        let fits = Pkt.ether(dst: bMAC, src: aMAC, Pkt.ipv4(src: a, dst: b, payload: [UInt8](repeating: 1, count: 1430)))
        let over = Pkt.ether(dst: bMAC, src: aMAC, Pkt.ipv4(src: a, dst: b, payload: [UInt8](repeating: 1, count: 1431)))
        XCTAssertEqual(fits.count - 14, 1450)
        let r = send([over, fits, over], on: c1)
        XCTAssertEqual(drops(r.counters), ["vxlan4-encap/mtu-exceeded": 2])
        XCTAssertEqual(r.out[up0]?.count, 1)
        XCTAssertEqual(r.out[up0]?.first?.count, 1450 + 14 + 50, "1500-byte outer packet on a 1500 underlay")
    }

    // MARK: checksum offload

    func testPendingInnerL4ChecksumIsCompletedBeforeEncap() throws {
        // A TCP segment whose checksum the (veth) sender left partial.
        var tcp: [UInt8] = Pkt.be16(33000) + Pkt.be16(80)
        tcp += Pkt.be32(1)
        tcp += Pkt.be32(0)
        tcp += [0x50, 0x18, 0x02, 0x00, 0xAB, 0xCD, 0, 0]
        tcp += (0..<200).map { (k: Int) -> UInt8 in UInt8(truncatingIfNeeded: k * 3) }
        let frame = Pkt.ether(dst: bMAC, src: aMAC, Pkt.ipv4(src: a, dst: b, proto: 6, payload: tcp))
        g.pgOutput.clearCapture()
        let bi = g.graph.buffers.alloc()
        let md = g.graph.metadata + Int(bi)
        md.pointee = BufferMetadata()
        md.pointee.dataOffset = UInt16(BufferPool.headroom)
        md.pointee.length = UInt16(frame.count)
        md.pointee.rxInterface = c1
        md.pointee.flags = [.l4ChecksumPending]
        (g.graph.data(bi) + BufferPool.headroom).copyMemory(from: frame, byteCount: frame.count)
        g.graph.enqueue(bi, to: g.graph.nodeIndex(named: "ethernet-input")!)
        g.graph.dispatchPending()
        guard let out = g.pgOutput.captured[up0]?.first else { return XCTFail("nothing encapsulated") }
        let innerOut = Array(out[50...])
        let ip = Array(innerOut[14...])
        let segment = Array(ip[20...])
        let pseudo = Array(ip[12..<20]) + [0, 6] + Pkt.be16(UInt16(segment.count))
        XCTAssertEqual(Pkt.checksum(pseudo + segment), 0, "inner TCP checksum verifies")
        XCTAssertNotEqual(Array(segment[16..<18]), [0xAB, 0xCD])
        XCTAssertEqual(Array(innerOut[0..<50]), Array(frame[0..<50]), "nothing but the checksum changed")
        XCTAssertEqual(Array(innerOut[52...]), Array(frame[52...]))
    }

    // MARK: static MACs

    func testStaticMACIsNotMovedByAFrameFromTheTunnel() {
        let gwMAC: UInt64 = 0x02_FE_00_00_00_01          // anycast gateway: same MAC on every node
        XCTAssertTrue(l2.macTable.addStatic(domain: 1, mac: gwMAC, interface: c1))
        XCTAssertTrue(l2.macTable.isStatic(domain: 1, mac: gwMAC))
        let learnedBefore = l2.domains.learned[1]
        let r = send([encapsulated(inner(dst: 0xFFFF_FFFF_FFFF, src: gwMAC))], on: up0)
        XCTAssertEqual(r.counters["l2-learn/static-mac-move"], 1)
        XCTAssertNil(r.counters["l2-learn/moved"])
        XCTAssertEqual(r.out[c1]?.count, 1, "the frame is still forwarded")
        XCTAssertEqual(l2.macTable.lookup(domain: 1, mac: gwMAC), c1)
        XCTAssertEqual(l2.domains.learned[1], learnedBefore, "static entries do not count against the learn limit")
        // Same interface: refreshed, still static; ageing never removes it.
        _ = send([inner(dst: 0xFFFF_FFFF_FFFF, src: gwMAC)], on: c1)
        l2.domains.macAgeSeconds[1] = 1
        l2.macTable.age(now: g.graph.nowSeconds &+ 1000, budget: l2.macTable.capacity)
        XCTAssertEqual(l2.macTable.lookup(domain: 1, mac: gwMAC), c1)
        XCTAssertTrue(l2.macTable.entries(domain: 1).contains { $0.mac == gwMAC && $0.interface == c1 && $0.lastSeen == MacTable.staticStamp })
        XCTAssertNil(l2.macTable.lookup(domain: 1, mac: bMAC), "the learned MAC aged out")
        // removeStatic leaves learned entries alone; detach drops static ones.
        XCTAssertFalse(l2.macTable.removeStatic(domain: 1, mac: aMAC))
        l2.detach(c1, interfaces: g.interfaces)
        XCTAssertNil(l2.macTable.lookup(domain: 1, mac: gwMAC))
        XCTAssertTrue(l2.macTable.addStatic(domain: 1, mac: gwMAC, interface: c1))
        XCTAssertTrue(l2.macTable.removeStatic(domain: 1, mac: gwMAC))
        XCTAssertEqual(l2.macTable.count, 0)
    }

    // MARK: control

    func testCreateTunnelRefusesBadRequestsAndLeavesNothingBehind() {
        let before = g.interfaces.indices
        func refused(_ e: VXLANError, _ body: () throws -> UInt32) {
            XCTAssertThrowsError(try body()) { XCTAssertEqual($0 as? VXLANError, e) }
            XCTAssertEqual(g.interfaces.indices, before)
        }
        refused(.invalidVNI(1 << 24)) { try vx.createTunnel(name: "x", local: local, remote: Pkt.ip("192.0.2.7"), vni: 1 << 24, bridgeDomain: 1, mtu: 1500) }
        refused(.invalidAddress(0)) { try vx.createTunnel(name: "x", local: local, remote: 0, vni: 1, bridgeDomain: 1, mtu: 1500) }
        refused(.invalidAddress(Pkt.ip("239.1.1.1"))) { try vx.createTunnel(name: "x", local: local, remote: Pkt.ip("239.1.1.1"), vni: 1, bridgeDomain: 1, mtu: 1500) }
        refused(.bridgeDomainMissing(7)) { try vx.createTunnel(name: "x", local: local, remote: Pkt.ip("192.0.2.7"), vni: 1, bridgeDomain: 7, mtu: 1500) }
        XCTAssertThrowsError(try vx.createTunnel(name: "x", local: local, remote: remote, vni: 42, bridgeDomain: 1, mtu: 1500)) {
            guard case .duplicate = $0 as? VXLANError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try vx.createTunnel(name: "vxlan_tunnel0", local: local, remote: Pkt.ip("192.0.2.7"), vni: 1, bridgeDomain: 1, mtu: 1500)) {
            guard case .duplicate = $0 as? VXLANError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(g.interfaces.indices, before)
        XCTAssertThrowsError(try vx.deleteTunnel(interface: c1)) { XCTAssertEqual($0 as? VXLANError, .notATunnel(c1)) }
        XCTAssertEqual(vx.tunnelInterfaces, [t1])
        XCTAssertEqual(vx.tunnel(interface: t1), VXLANTunnelInfo(interface: t1, local: local, remote: remote, vni: 42, port: 4789, fibIndex: 0))
        XCTAssertNil(vx.tunnel(interface: c1))
        XCTAssertEqual(g.interfaces.descriptions[Int(t1)]?.driver, "vxlan")
        XCTAssertEqual(g.interfaces.splitHorizonGroup[Int(t1)], 1)
        XCTAssertEqual(g.interfaces.splitHorizonGroup[Int(c1)], 0)
    }

    func testTwoHundredTunnelsCreatedAndDeletedRestoreEveryTable() throws {
        try vx.deleteTunnel(interface: t1)
        let interfacesBefore = g.interfaces.indices
        let membersBefore = l2.domains.memberList(1)
        XCTAssertEqual(vx.tunnels.decapCount, 0)
        XCTAssertEqual(vx.tunnels.vniPortCount, 0)
        XCTAssertEqual(ip4.localPorts.registeredPorts, [])
        l2.domains.create(id: 2, learnLimit: 10_000, macAgeSeconds: 0)
        let c2 = g.addInterface("c2")
        XCTAssertTrue(l2.attach(c2, to: 2, interfaces: g.interfaces))
        let macsBefore = l2.macTable.count

        for round in 0..<2 {
            var made: [UInt32] = []
            for k in 0..<200 {
                let remoteK = Pkt.ip("198.18.0.0") + UInt32(k + 1)
                let port: UInt16 = k % 4 == 3 ? 4790 : 4789
                let t = try vx.createTunnel(name: "vxlan_tunnel\(k)", local: local, remote: remoteK, vni: UInt32(100 + k % 10),
                                            port: port, bridgeDomain: k % 2 == 0 ? 1 : 2, mtu: 1450)
                made.append(t)
            }
            XCTAssertEqual(vx.tunnels.decapCount, 200)
            XCTAssertEqual(vx.tunnels.vniPortCount, 15, "10 VNIs on 4789, 5 of them also on 4790")
            XCTAssertEqual(ip4.localPorts.referenceCount(port: 4789), 150)
            XCTAssertEqual(ip4.localPorts.referenceCount(port: 4790), 50)
            // Traffic in from every tunnel: each inner source MAC learned on its tunnel.
            var frames: [[UInt8]] = []
            for k in 0..<200 {
                let src: UInt64 = 0x02_DD_00_00_00_00 + UInt64(k)
                let from: UInt32 = Pkt.ip("198.18.0.0") + UInt32(k + 1)
                let port: UInt16 = k % 4 == 3 ? 4790 : 4789
                frames.append(encapsulated(inner(dst: 0xFFFF_FFFF_FFFF, src: src), from: from, vni: UInt32(100 + k % 10), port: port))
            }
            let r = send(frames, on: up0)
            XCTAssertEqual(drops(r.counters), [:], "round \(round)")
            for k in 0..<200 {
                XCTAssertEqual(l2.macTable.lookup(domain: k % 2 == 0 ? 1 : 2, mac: 0x02_DD_00_00_00_00 + UInt64(k)), made[k])
            }
            for t in made.shuffled() { try vx.deleteTunnel(interface: t) }

            XCTAssertEqual(g.interfaces.indices, interfacesBefore + [c2])
            XCTAssertEqual(l2.domains.memberList(1), membersBefore)
            XCTAssertEqual(l2.domains.memberList(2), [c2])
            XCTAssertEqual(vx.tunnels.decapCount, 0)
            XCTAssertEqual(vx.tunnels.vniPortCount, 0)
            XCTAssertTrue((0..<2 * VXLANTunnelTable.capacity).allSatisfy { vx.tunnels.decap[$0].key == 0 && vx.tunnels.vnis[$0].key == 0 })
            XCTAssertEqual(ip4.localPorts.registeredPorts, [])
            XCTAssertEqual(vx.tunnelInterfaces, [])
            XCTAssertEqual(l2.macTable.count, macsBefore, "MACs learned on the tunnels flushed")
            XCTAssertTrue((0..<InterfaceTable.capacity).allSatisfy { g.interfaces.splitHorizonGroup[$0] == 0 })
        }
        // Nothing listens any more.
        let r = send([encapsulated(inner(dst: aMAC, src: bMAC))], on: up0)
        XCTAssertEqual(r.counters, ["ip4-local/udp-no-listener": 1, "ip4-icmp-error/unreachable-sent": 1])
    }
}
