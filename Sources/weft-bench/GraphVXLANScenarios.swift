import ArgumentParser
import WeftEngine
import WeftIO
import WeftIP4
import WeftL2
import WeftPacket
import WeftVXLAN

/// `weft-bench graph vxlan-encap | vxlan-decap`: L2 over VXLAN on one core.
///
/// Topology: bridge domain 1 holds pg port c0 (the local containers) and
/// `--next-hops` tunnels (VNI 42) to remote VTEPs 192.0.2.2, .3, ... over
/// the underlay pg port up0 = 192.0.2.1/24, every remote a resolved (static)
/// neighbour. `--macs` MACs live behind c0 and as many (rounded up to a
/// multiple of the tunnel count) behind the tunnels, MAC m behind tunnel
/// m % tunnels; all are learned before measuring. `--frame-length` is the
/// inner (tenant) frame; the underlay packet is 50 bytes longer.
///
/// - vxlan-encap: c0 -> ethernet-input -> l2-input -> l2-learn -> l2-fwd ->
///   l2-output -> vxlan4-encap -> ip4-lookup -> ip4-rewrite -> pg-output (up0).
/// - vxlan-decap: up0 -> ethernet-input -> ip4-input -> ip4-lookup ->
///   ip4-local -> vxlan4-input -> l2-input -> l2-learn -> l2-fwd -> l2-output
///   -> pg-output (c0).
extension GraphCommand {
    static let vxlanEncapPath = ["ethernet-input", "l2-input", "l2-learn", "l2-fwd", "l2-output",
                                 "vxlan4-encap", "ip4-lookup", "ip4-rewrite"]
    static let vxlanDecapPath = ["ethernet-input", "ip4-input", "ip4-lookup", "ip4-local", "vxlan4-input",
                                 "l2-input", "l2-learn", "l2-fwd", "l2-output"]

    var vxlanSetup: String { "\(macs) local MACs, \(nextHops) tunnels (VNI 42), inner frames + 50 bytes outer" }

    struct VXLANBench {
        var g: EmbeddedGraph
        var l2: L2Feature
        var c0: UInt32
        var up0: UInt32
        /// MACs behind the tunnels (a multiple of the tunnel count).
        var remoteMACs: Int
    }

    static let vxLocalMACBase: UInt64 = 0x02_00_00_01_00_00
    static let vxRemoteMACBase: UInt64 = 0x02_00_00_02_00_00
    static let vxUnderlayMAC: UInt64 = 0x02_00_00_00_00_01
    static let vxLocalVTEP: UInt32 = 0xC000_0201                   // 192.0.2.1
    static let vxVNI: UInt32 = 42

    static func vxRemoteVTEP(_ k: Int) -> UInt32 { 0xC000_0202 + UInt32(k) }
    static func vxRemoteVTEPMAC(_ k: Int) -> UInt64 { 0x02_EE_00_00_00_00 + UInt64(k) }

    func runVXLANEncap() throws -> RunResult {
        let b = try buildVXLAN()
        let stream = PacketStream(
            template: vxInnerFrame(dst: Self.vxRemoteMACBase, src: Self.vxLocalMACBase), rxInterface: b.c0, count: packets, burst: vector,
            increments: [.init(offset: 4, width: 2, modulo: UInt64(b.remoteMACs)), .init(offset: 10, width: 2, modulo: UInt64(macs))])
        return try measure(b.g, stream: stream, tx: b.up0, scenario: .vxlanEncap)
    }

    func runVXLANDecap() throws -> RunResult {
        let b = try buildVXLAN()
        let stream = vxDecapStream(b, innerDst: Self.vxLocalMACBase, dstModulo: macs, count: packets)
        return try measure(b.g, stream: stream, tx: b.c0, scenario: .vxlanDecap)
    }

    func buildVXLAN() throws -> VXLANBench {
        let tunnelCount = nextHops
        let l2 = L2Feature(macTableCapacity: 1 << 16)
        let ip4 = try IP4Feature(fibTables: 4, fibAlgorithm: fibAlgorithm, groupCapacity: 1024, adjacencyCapacity: 1024, neighbourCapacity: 1024)
        let vx = VXLANFeature(ip4: ip4, l2: l2)
        let g = try EmbeddedGraph(buffers: 16384) { l2.register(in: $0); ip4.register(in: $0); vx.register(in: $0) }
        l2.domains.create(id: 1, learnLimit: 200_000, macAgeSeconds: 0)
        let c0 = g.addInterface("c0", mtu: 9000), up0 = g.addInterface("up0", mtu: 9000)
        _ = l2.attach(c0, to: 1, interfaces: g.interfaces)
        try ip4.setAddress(Self.vxLocalVTEP, prefixLength: 24, interface: up0, mac: Self.vxUnderlayMAC)
        for k in 0..<tunnelCount {
            try ip4.addNeighbour(Self.vxRemoteVTEP(k), mac: Self.vxRemoteVTEPMAC(k), interface: up0)
            _ = try vx.createTunnel(name: "vxlan_tunnel\(k)", local: Self.vxLocalVTEP, remote: Self.vxRemoteVTEP(k),
                                    vni: Self.vxVNI, bridgeDomain: 1, mtu: 9000 - VXLANFeature.overhead)
        }
        let remoteMACs = (macs + tunnelCount - 1) / tunnelCount * tunnelCount
        let b = VXLANBench(g: g, l2: l2, c0: c0, up0: up0, remoteMACs: remoteMACs)

        // Warm up: every remote MAC learned on its tunnel (decap), every local MAC on c0 (encap).
        g.pgInput.add(vxDecapStream(b, innerDst: 0xFFFF_FFFF_FFFF, dstModulo: 0, count: remoteMACs))
        g.run()
        g.pgInput.add(PacketStream(
            template: vxInnerFrame(dst: Self.vxRemoteMACBase, src: Self.vxLocalMACBase), rxInterface: c0, count: macs,
            increments: [.init(offset: 4, width: 2, modulo: UInt64(remoteMACs)), .init(offset: 10, width: 2, modulo: UInt64(macs))]))
        g.run()
        guard l2.macTable.count == macs + remoteMACs else {
            throw ValidationError("vxlan warm-up learned \(l2.macTable.count) of \(macs + remoteMACs) MACs")
        }
        return b
    }

    /// VXLAN packets on up0 from every tunnel in turn: packet n comes from
    /// tunnel n % tunnels carrying inner source MAC n % remoteMACs (so each
    /// MAC always arrives on the same tunnel) and destination `innerDst` +
    /// n % `dstModulo` (fixed when 0).
    func vxDecapStream(_ b: VXLANBench, innerDst: UInt64, dstModulo: Int, count: Int) -> PacketStream {
        let inner = vxInnerFrame(dst: innerDst, src: Self.vxRemoteMACBase)
        let templates = (0..<nextHops).map { k -> [UInt8] in
            Self.vxOuterFrame(inner, from: Self.vxRemoteVTEP(k), fromMAC: Self.vxRemoteVTEPMAC(k), sourcePort: 49152 + UInt16(k))
        }
        let innerStart = VXLANFeature.overhead
        var increments: [PacketStream.Increment] = [.init(offset: innerStart + 10, width: 2, modulo: UInt64(b.remoteMACs))]
        if dstModulo > 0 { increments.append(.init(offset: innerStart + 4, width: 2, modulo: UInt64(dstModulo))) }
        return PacketStream(frames: templates, rxInterface: b.up0, count: count, burst: vector, increments: increments)
    }

    /// A tenant Ethernet + IPv4 + UDP frame of `frameLength` bytes (valid header checksum).
    func vxInnerFrame(dst: UInt64, src: UInt64) -> [UInt8] {
        let ip = Self.vxIPv4(src: 0x0A0A_0001, dst: 0x0A0A_0002, payload: [0x9C, 0x40, 0x00, 0x07] + Self.be16(UInt16(frameLength - 34)) + [0, 0]
                             + [UInt8](repeating: 0, count: frameLength - 42))
        return MACAddress.bytes(dst) + MACAddress.bytes(src) + [0x08, 0x00] + ip
    }

    /// The underlay frame a remote VTEP sends us carrying `inner`.
    static func vxOuterFrame(_ inner: [UInt8], from: UInt32, fromMAC: UInt64, sourcePort: UInt16) -> [UInt8] {
        let vxlan: [UInt8] = [0x08, 0, 0, 0, UInt8(vxVNI >> 16 & 0xFF), UInt8(vxVNI >> 8 & 0xFF), UInt8(vxVNI & 0xFF), 0]
        let udp = be16(sourcePort) + be16(VXLAN.defaultPort) + be16(UInt16(16 + inner.count)) + [0, 0] + vxlan + inner
        return MACAddress.bytes(vxUnderlayMAC) + MACAddress.bytes(fromMAC) + [0x08, 0x00] + vxIPv4(src: from, dst: vxLocalVTEP, payload: udp)
    }

    static func vxIPv4(src: UInt32, dst: UInt32, payload: [UInt8]) -> [UInt8] {
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        var h: [UInt8] = [0x45, 0] + be16(UInt16(20 + payload.count)) + [0, 0, 0x40, 0, 64, 17, 0, 0] + be32(src) + be32(dst)
        let sum = h.withUnsafeBytes { Checksum.finish(Checksum.sum($0.baseAddress!, 20)) }
        h[10] = UInt8(sum >> 8); h[11] = UInt8(sum & 0xFF)
        return h + payload
    }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
}
