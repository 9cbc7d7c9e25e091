/// The seed corpus: one valid input per kind of traffic the topology
/// handles, in the input format of main.swift (written by
/// WEFT_FUZZ_WRITE_SEEDS; Fuzz/corpus/packet holds the result).
enum Seeds {
    static func record(_ port: Int, _ frame: [UInt8]) -> [UInt8] { [UInt8(port)] + Frames.be16(UInt16(frame.count)) + frame }

    static func all(_ t: Topology) -> [(String, [UInt8])] {
        typealias T = Topology
        let (p1, p2, p3, p4, up0, p5) = (0, 1, 2, 3, 4, 5)
        func ip(_ dstMAC: UInt64, _ srcMAC: UInt64, _ src: UInt32, _ dst: UInt32, _ proto: UInt8, _ l4: [UInt8], ttl: UInt8 = 64) -> [UInt8] {
            Frames.ether(dst: dstMAC, src: srcMAC, type: 0x0800, Frames.ipv4(src: src, dst: dst, proto: proto, ttl: ttl, l4))
        }
        let c1ToC2 = ip(T.c2MAC, T.c1MAC, T.c1, T.c2, 17, Frames.udp(1000, 2000, [1, 2, 3, 4]))
        var seeds: [(String, [UInt8])] = [
            ("l2-udp-c1-c2", [0] + record(p1, c1ToC2)),
            ("l2-unknown-unicast", [0] + record(p2, ip(0x02_99_00_00_00_01, T.c2MAC, T.c2, 0x0A01_0063, 17, Frames.udp(5, 6, [])))),
            ("l2-broadcast", [0] + record(p3, Frames.ether(dst: 0xFFFF_FFFF_FFFF, src: T.c3MAC, type: 0x88B5, [1, 2, 3]))),
            ("l2-vlan-8021q", [0] + record(p1, Frames.vlan(c1ToC2, tag: 100))),
            ("l2-vlan-qinq", [0] + record(p1, Frames.vlan(Frames.vlan(c1ToC2, tag: 10), tag: 20, tpid: 0x88A8))),
            ("l2-spoofed-source", [0] + record(p1, ip(T.c2MAC, 0x02_66_00_00_00_01, 0x0A01_0042, T.c2, 17, Frames.udp(1, 2, [])))),
            ("arp-request-gateway", [0] + record(p1, Frames.arpRequest(from: T.c1MAC, T.c1, for: T.bvi1))),
            ("arp-reply", [0] + record(p3, Frames.ether(dst: T.bvi2MAC, src: T.c3MAC, type: 0x0806,
                                                       Frames.arp(op: 2, sha: T.c3MAC, spa: T.c3, tha: T.bvi2MAC, tpa: T.bvi2)))),
            ("ip4-routed-bd1-bd2-tcp", [0] + record(p1, ip(T.bvi1MAC, T.c1MAC, T.c1, T.c3, 6, Frames.tcp(33000, 443)))),
            ("ip4-icmp-echo-gateway", [0] + record(p2, ip(T.bvi1MAC, T.c2MAC, T.c2, T.bvi1, 1, Frames.icmpEcho(id: 1, seq: 1)))),
            ("ip4-ttl-expired", [0] + record(p3, ip(T.bvi2MAC, T.c3MAC, T.c3, T.c1, 17, Frames.udp(7, 8, [9]), ttl: 1))),
            ("ip4-unresolved-neighbour", [0] + record(p1, ip(T.bvi1MAC, T.c1MAC, T.c1, 0x0A02_0063, 17, Frames.udp(7, 8, [9])))),
            ("ip4-routed-port", [0] + record(p5, ip(T.p5MAC, T.hMAC, T.h, T.c3, 17, Frames.udp(7, 8, [9])))),
            ("ip4-route-via-h", [0] + record(p3, ip(T.bvi2MAC, T.c3MAC, T.c3, 0x0A63_0101, 6, Frames.tcp(1, 2)))),
            ("nat-in2out-udp", [0] + record(p1, ip(T.bvi1MAC, T.c1MAC, T.c1, T.remote, 17, Frames.udp(40000, 53, [1, 2, 3])))),
            ("nat-in2out-tcp-syn", [0] + record(p1, ip(T.bvi1MAC, T.c1MAC, T.c1, T.remote, 6, Frames.tcp(40001, 80)))),
            ("nat-in2out-icmp", [0] + record(p1, ip(T.bvi1MAC, T.c1MAC, T.c1, T.remote, 1, Frames.icmpEcho(id: 7, seq: 2)))),
            ("nat-out2in-static-mapping", [0] + record(up0, ip(T.upMAC, T.gMAC, T.remote, T.uplink, 6, Frames.tcp(50000, 8080)))),
            ("nat-out2in-udp-reply", [0] + record(up0, ip(T.upMAC, T.gMAC, T.remote, T.uplink, 17, Frames.udp(53, 32768, [4])))),
            ("nat-icmp-error-inbound", [0] + record(up0, ip(T.upMAC, T.gMAC, T.gateway, T.uplink, 1,
                [3, 3, 0, 0, 0, 0, 0, 0] + Frames.ipv4(src: T.uplink, dst: T.remote, proto: 17, Frames.udp(32768, 53, []))))),
            ("vxlan-decap-to-c4", [0] + record(up0, Frames.vxlan(Frames.ether(dst: T.c4MAC, src: T.remoteMAC, type: 0x0800,
                Frames.ipv4(src: 0x0A05_0032, dst: T.c4, proto: 17, Frames.udp(1, 2, [3]))), vni: T.vni))),
            ("vxlan-decap-arp-bvi3", [0] + record(up0, Frames.vxlan(Frames.arpRequest(from: T.remoteMAC, 0x0A05_0032, for: T.bvi3), vni: T.vni))),
            ("vxlan-encap-from-c4", [0] + record(p4, ip(T.remoteMAC, T.c4MAC, T.c4, 0x0A05_0032, 17, Frames.udp(3, 4, [5])))),
            ("vxlan-encap-flood", [0] + record(p4, Frames.arpRequest(from: T.c4MAC, T.c4, for: 0x0A05_0063))),
        ]
        // Several frames in one input, one of them traced; and one with ageing first.
        seeds.append(("multi-traced", [0x04] + record(p1, c1ToC2) + record(p2, Frames.arpRequest(from: T.c2MAC, T.c2, for: T.bvi1))
                      + record(up0, ip(T.upMAC, T.gMAC, T.remote, T.uplink, 17, Frames.udp(53, 32768, [4])))))
        seeds.append(("aged-then-routed", [0x80] + record(p1, ip(T.bvi1MAC, T.c1MAC, T.c1, T.c3, 17, Frames.udp(1, 2, [])))))
        return seeds
    }
}
