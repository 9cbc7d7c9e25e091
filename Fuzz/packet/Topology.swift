import WeftEngine
import WeftIO
import WeftIP4
import WeftL2
import WeftNAT
import WeftPacket
import WeftVXLAN

/// The graph the packet fuzzer drives: every feature weftd registers, wired
/// as weftd wires a node with three networks, an uplink and a VXLAN tunnel
/// (pg ports stand in for devices; the per-packet code is the real one).
///
///   bd1  p1 (container C1 10.1.0.10, source-guarded), p2 (C2 10.1.0.20),
///        bvi1 10.1.0.1/24: NAT inside (masquerade), static mapping tcp 8080 -> C1:80
///   bd2  p3 (C3 10.2.0.30), bvi2 10.2.0.1/24
///   bd3  p4 (C4 10.5.0.40), bvi3 10.5.0.1/24, vxlan_tunnel0 to 192.0.2.2 VNI 42
///   up0  uplink 192.0.2.1/24, NAT outside, default route via G 192.0.2.254
///   p5   routed port 10.3.0.1/24, host H 10.3.0.30; 10.99.0.0/16 via H
final class Topology {
    let g: EmbeddedGraph
    let l2: L2Feature
    let ip4: IP4Feature
    let nat: NAT44Feature
    let vxlan: VXLANFeature
    /// Receive ports a fuzz input picks from.
    var ports: [UInt32] = []
    var p1: UInt32 = 0, p2: UInt32 = 0, p3: UInt32 = 0, p4: UInt32 = 0, p5: UInt32 = 0, up0: UInt32 = 0

    static let bvi1MAC: UInt64 = 0x02_FE_FF_00_00_01, bvi2MAC: UInt64 = 0x02_FE_FF_00_00_02, bvi3MAC: UInt64 = 0x02_FE_FF_00_00_03
    static let upMAC: UInt64 = 0x02_00_00_00_0F_01, p5MAC: UInt64 = 0x02_00_00_00_05_01
    static let c1MAC: UInt64 = 0x02_C1_00_00_00_0A, c2MAC: UInt64 = 0x02_C2_00_00_00_14, c3MAC: UInt64 = 0x02_C3_00_00_00_1E
    static let c4MAC: UInt64 = 0x02_C4_00_00_00_28, remoteMAC: UInt64 = 0x02_D4_00_00_00_32
    static let gMAC: UInt64 = 0x02_EE_00_00_00_FE, vtepMAC: UInt64 = 0x02_EE_00_00_00_02, hMAC: UInt64 = 0x02_33_00_00_00_1E
    static let bvi1: UInt32 = 0x0A01_0001, bvi2: UInt32 = 0x0A02_0001, bvi3: UInt32 = 0x0A05_0001
    static let c1: UInt32 = 0x0A01_000A, c2: UInt32 = 0x0A01_0014, c3: UInt32 = 0x0A02_001E, c4: UInt32 = 0x0A05_0028
    static let uplink: UInt32 = 0xC000_0201, gateway: UInt32 = 0xC000_02FE, vtep: UInt32 = 0xC000_0202
    static let p5Address: UInt32 = 0x0A03_0001, h: UInt32 = 0x0A03_001E
    static let remote: UInt32 = 0xC633_6407                       // 198.51.100.7, beyond the uplink
    static let vni: UInt32 = 42

    init() throws {
        let l2 = L2Feature(macTableCapacity: 4096)
        let ip4 = try IP4Feature(fibTables: 2, groupCapacity: 256, adjacencyCapacity: 256, neighbourCapacity: 256)
        let nat = try NAT44Feature(config: NAT44Config(maxSessions: 1024), ip4: ip4)
        let vxlan = VXLANFeature(ip4: ip4, l2: l2)
        let bvi = BVINode(ip4: ip4)
        self.l2 = l2; self.ip4 = ip4; self.nat = nat; self.vxlan = vxlan
        g = try EmbeddedGraph(buffers: 4096) {
            l2.register(in: $0); ip4.register(in: $0); vxlan.register(in: $0); nat.register(in: $0); $0.register(bvi)
        }
        g.graph.nowSeconds = 1000
        let bviNode = g.graph.nodeIndex(named: "bvi")!
        for id: UInt32 in 1...3 { l2.domains.create(id: id, learnLimit: 64, macAgeSeconds: 300) }
        p1 = g.addInterface("p1"); p2 = g.addInterface("p2"); p3 = g.addInterface("p3"); p4 = g.addInterface("p4")
        up0 = g.addInterface("up0", mtu: 1550); p5 = g.addInterface("p5")
        ports = [p1, p2, p3, p4, up0, p5]
        for (port, bd) in [(p1, 1), (p2, 1), (p3, 2), (p4, 3)] { precondition(l2.attach(port, to: UInt32(bd), interfaces: g.interfaces)) }
        l2.sourceGuard.set(p1, mac: Self.c1MAC, ipv4: Self.c1)

        var bvis: [UInt32] = []
        for (k, mac) in [Self.bvi1MAC, Self.bvi2MAC, Self.bvi3MAC].enumerated() {
            let i = g.interfaces.add(name: "bvi\(k + 1)", driver: "bvi", mac: MACAddress.bytes(mac), mtu: 1500,
                                     outputNode: bviNode, driverInstance: -1)!
            precondition(l2.attach(i, to: UInt32(k + 1), interfaces: g.interfaces))
            bvis.append(i)
        }
        try ip4.setAddress(Self.bvi1, prefixLength: 24, interface: bvis[0], mac: Self.bvi1MAC)
        try ip4.setAddress(Self.bvi2, prefixLength: 24, interface: bvis[1], mac: Self.bvi2MAC)
        try ip4.setAddress(Self.bvi3, prefixLength: 24, interface: bvis[2], mac: Self.bvi3MAC)
        try ip4.setAddress(Self.uplink, prefixLength: 24, interface: up0, mac: Self.upMAC)
        try ip4.setAddress(Self.p5Address, prefixLength: 24, interface: p5, mac: Self.p5MAC)
        try ip4.addNeighbour(Self.gateway, mac: Self.gMAC, interface: up0)
        try ip4.addNeighbour(Self.vtep, mac: Self.vtepMAC, interface: up0)
        try ip4.addNeighbour(Self.h, mac: Self.hMAC, interface: p5)
        try ip4.addRoute(IPv4Prefix(address: 0, length: 0)!, via: Self.gateway, interface: up0)
        try ip4.addRoute(IPv4Prefix(address: 0x0A63_0000, length: 16)!, via: Self.h, interface: p5)

        nat.setOutside(interface: up0, address: Self.uplink)
        nat.setInside(interface: bvis[0], true)
        try nat.addStaticMapping(protocol: 6, externalPort: 8080, internalAddress: Self.c1, internalPort: 80)

        _ = try vxlan.createTunnel(name: "vxlan_tunnel0", local: Self.uplink, remote: Self.vtep, vni: Self.vni,
                                   bridgeDomain: 3, mtu: 1500)
        warmUp()
    }

    /// What a running node has learned: MACs on their ports, neighbours
    /// through ARP, NAT sessions of a few flows, a remote MAC on the tunnel.
    func warmUp() {
        func send(_ frame: [UInt8], _ rx: UInt32) { g.inject([frame], on: rx); g.run() }
        send(Frames.arpRequest(from: Self.c1MAC, Self.c1, for: Self.bvi1), p1)
        send(Frames.arpRequest(from: Self.c2MAC, Self.c2, for: Self.bvi1), p2)
        send(Frames.arpRequest(from: Self.c3MAC, Self.c3, for: Self.bvi2), p3)
        send(Frames.arpRequest(from: Self.c4MAC, Self.c4, for: Self.bvi3), p4)
        send(Frames.vxlan(Frames.ether(dst: Self.c4MAC, src: Self.remoteMAC, type: 0x0800,
                                       Frames.ipv4(src: 0x0A05_0032, dst: Self.c4, proto: 17, Frames.udp(1, 2, [1]))),
                          vni: Self.vni), up0)
        for proto: UInt8 in [17, 6, 1] {
            send(Frames.ether(dst: Self.bvi1MAC, src: Self.c1MAC, type: 0x0800,
                              Frames.ipv4(src: Self.c1, dst: Self.remote, proto: proto, Frames.l4(proto))), p1)
        }
    }

    /// The housekeeping weftd's worker does, with the clock moved on far
    /// enough that everything learned expires; then learned again.
    func ageAll() {
        g.graph.nowSeconds &+= 100_000
        let now = g.graph.nowSeconds
        for _ in 0..<8 { l2.age(now: now) }
        _ = ip4.age(now: now)
        _ = nat.expire(now: now)
        warmUp()
    }
}

/// Frame builders for the warm-up and the seed corpus (valid checksums).
enum Frames {
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> [UInt8] {
        be16(bytes.withUnsafeBytes { Checksum.finish(Checksum.sum($0.baseAddress!, bytes.count, initial: initial)) })
    }

    static func ether(dst: UInt64, src: UInt64, type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        var f = MACAddress.bytes(dst) + MACAddress.bytes(src) + be16(type) + payload
        if f.count < 60 { f += [UInt8](repeating: 0, count: 60 - f.count) }
        return f
    }

    static func vlan(_ frame: [UInt8], tag: UInt16, tpid: UInt16 = 0x8100) -> [UInt8] {
        Array(frame[0..<12]) + be16(tpid) + be16(tag) + Array(frame[12...])
    }

    static func ipv4(src: UInt32, dst: UInt32, proto: UInt8, ttl: UInt8 = 64, _ payload: [UInt8]) -> [UInt8] {
        var h: [UInt8] = [0x45, 0] + be16(UInt16(20 + payload.count)) + [0, 1, 0x40, 0, ttl, proto, 0, 0] + be32(src) + be32(dst)
        let sum = checksum(h)
        h[10] = sum[0]; h[11] = sum[1]
        // Transport checksums over the pseudo header (UDP and TCP), or the ICMP message.
        var p = payload
        if proto == 6 || proto == 17, p.count >= (proto == 6 ? 20 : 8) {
            let at = proto == 6 ? 16 : 6
            p[at] = 0; p[at + 1] = 0
            let pseudo = be32(src) + be32(dst) + [0, proto] + be16(UInt16(p.count))
            let c = checksum(pseudo + p)
            p[at] = c[0]; p[at + 1] = c[1]
        } else if proto == 1, p.count >= 4 {
            p[2] = 0; p[3] = 0
            let c = checksum(p)
            p[2] = c[0]; p[3] = c[1]
        }
        return h + p
    }

    static func udp(_ sport: UInt16, _ dport: UInt16, _ data: [UInt8]) -> [UInt8] {
        be16(sport) + be16(dport) + be16(UInt16(8 + data.count)) + [0, 0] + data
    }

    static func tcp(_ sport: UInt16, _ dport: UInt16, flags: UInt8 = 0x02) -> [UInt8] {
        be16(sport) + be16(dport) + be32(1000) + be32(0) + [0x50, flags] + be16(65535) + [0, 0, 0, 0]
    }

    static func icmpEcho(id: UInt16, seq: UInt16) -> [UInt8] { [8, 0, 0, 0] + be16(id) + be16(seq) + [0x61, 0x62, 0x63, 0x64] }

    static func l4(_ proto: UInt8) -> [UInt8] {
        proto == 17 ? udp(40000, 53, [1, 2, 3]) : proto == 6 ? tcp(40001, 80) : icmpEcho(id: 7, seq: 1)
    }

    static func arp(op: UInt16, sha: UInt64, spa: UInt32, tha: UInt64, tpa: UInt32) -> [UInt8] {
        [0, 1, 8, 0, 6, 4] + be16(op) + MACAddress.bytes(sha) + be32(spa) + MACAddress.bytes(tha) + be32(tpa)
    }

    static func arpRequest(from mac: UInt64, _ spa: UInt32, for tpa: UInt32) -> [UInt8] {
        ether(dst: 0xFFFF_FFFF_FFFF, src: mac, type: 0x0806, arp(op: 1, sha: mac, spa: spa, tha: 0, tpa: tpa))
    }

    /// `inner` as the remote VTEP sends it to the uplink.
    static func vxlan(_ inner: [UInt8], vni: UInt32) -> [UInt8] {
        let header: [UInt8] = [0x08, 0, 0, 0] + Array(be32(vni << 8))
        var u = udp(49152, VXLAN.defaultPort, header + inner)
        u[6] = 0; u[7] = 0
        let ip = ipv4(src: Topology.vtep, dst: Topology.uplink, proto: 17, u)
        var f = ether(dst: Topology.upMAC, src: Topology.vtepMAC, type: 0x0800, ip)
        f[40] = 0; f[41] = 0                                             // UDP checksum 0, as VTEPs send
        return f
    }
}
