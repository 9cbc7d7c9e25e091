import ArgumentParser
import WeftEngine
import WeftIO
import WeftIP4
import WeftL2
import WeftPacket
import WeftVXLAN

/// `weft-bench graph container`: a pod's packet to a pod of another network
/// on another node, the whole path on one core.
///
/// Topology, wired as weftd wires it (EngineDataplane: `setGateway`, the
/// VXLAN network's tunnels, the uplink):
/// - network A = bridge domain 1: pg port c0 (the pods' veths; `--macs` pod
///   MACs behind it, not source-guarded) and its gateway, BVI `bvi1`
///   (10.1.0.1, MAC 02:fe:ff:00:00:01): an interface whose output node is
///   `bvi`, a member of the domain, its MAC a static MAC-table entry, the
///   gateway address on it in FIB table 0.
/// - network B = bridge domain 2: its gateway `bvi2` (10.2.0.1, MAC
///   02:fe:ff:00:00:02) and `--next-hops` VXLAN tunnels (VNI 42) to remote
///   VTEPs 192.0.2.2, .3, ... over the underlay pg port up0 = 192.0.2.1/24
///   with every VTEP a resolved (static) neighbour, as in vxlan-encap.
///   `--macs` (rounded up to a multiple of the tunnels) remote pods,
///   10.2.0.2, .3, ..., pod m behind tunnel m % tunnels: their MACs learned
///   on the tunnels from decapsulated traffic, their addresses resolved
///   neighbours on bvi2 (host routes through their rewrite adjacencies).
/// Both networks' prefixes are /24, or wider when the pods need it.
///
/// Packets: pod MAC -> bvi1's MAC, 10.1.0.x -> 10.2.0.y, the source MAC
/// cycling over the local pods and the destination over min(--destinations,
/// remote pods) templates spread over the remote pods. Path:
/// c0 -> ethernet-input -> l2-input -> l2-learn -> l2-fwd -> l2-output ->
/// bvi (into L3) -> ip4-input -> ip4-lookup -> ip4-rewrite -> bvi (into
/// bridge domain 2) -> l2-input -> l2-learn -> l2-fwd -> l2-output ->
/// vxlan4-encap -> ip4-lookup -> ip4-rewrite -> pg-output (up0). Nodes met
/// twice report both visits' clocks together.
extension GraphCommand {
    static let containerPath = ["ethernet-input", "l2-input", "l2-learn", "l2-fwd", "l2-output", "bvi",
                                "ip4-input", "ip4-lookup", "ip4-rewrite", "vxlan4-encap"]

    static let ctNetA: UInt32 = 0x0A01_0000                       // 10.1.0.0
    static let ctNetB: UInt32 = 0x0A02_0000                       // 10.2.0.0
    /// weftd's gateway MAC of bridge domain `id` (EngineDataplane.bviMAC).
    static func ctBVIMAC(_ id: UInt32) -> UInt64 { 0x02_FE_FF_00_00_00 | UInt64(id & 0xFFFF) }
    /// Gateway .1, pods from .2 on.
    static func ctGateway(_ net: UInt32) -> UInt32 { net + 1 }
    static func ctPodIP(_ net: UInt32, _ i: Int) -> UInt32 { net + 2 + UInt32(i) }

    var ctTunnels: Int { nextHops }
    var ctRemotePods: Int { (macs + nextHops - 1) / nextHops * nextHops }
    var ctDestinations: Int { min(destinations, ctRemotePods) }
    /// /24, or the longest prefix holding network, gateway, pods and broadcast.
    var ctPrefixLength: Int {
        var p = 24
        while (1 << (32 - p)) < max(macs, ctRemotePods) + 3 { p -= 1 }
        return p
    }

    var containerSetup: String {
        "\(macs) pods on c0 in bd 1 (gateway bvi1 10.1.0.1/\(ctPrefixLength)) -> \(ctRemotePods) remote pods in bd 2 "
            + "(gateway bvi2 10.2.0.1/\(ctPrefixLength)) behind \(ctTunnels) VXLAN tunnels (VNI \(Self.vxVNI)), "
            + "\(ctDestinations) destinations, inner frames + 50 bytes outer, \(fib) FIB"
    }

    struct ContainerBench {
        var g: EmbeddedGraph
        var l2: L2Feature
        var c0: UInt32
        var up0: UInt32
        var bviA: UInt32
        var bviB: UInt32
    }

    func runContainer() throws -> RunResult {
        let b = try buildContainer()
        try verifyContainer(b)
        return try measure(b.g, stream: containerStream(b, count: packets), tx: b.up0, scenario: .container)
    }

    func buildContainer() throws -> ContainerBench {
        let tunnels = ctTunnels, remotePods = ctRemotePods, prefixLength = ctPrefixLength
        let l2 = L2Feature(macTableCapacity: max(1 << 16, 4 * (macs + remotePods)))
        let ip4Entries = max(1024, 2 * (remotePods + tunnels) + 64)
        let ip4 = try IP4Feature(fibTables: 4, fibAlgorithm: fibAlgorithm, groupCapacity: 1024, adjacencyCapacity: ip4Entries, neighbourCapacity: ip4Entries)
        let vx = VXLANFeature(ip4: ip4, l2: l2)
        let bvi = BVINode(ip4: ip4)
        let g = try EmbeddedGraph(buffers: 16384) {
            l2.register(in: $0); ip4.register(in: $0); vx.register(in: $0); _ = $0.register(bvi)
        }
        let learnLimit = UInt32(max(100_000, 2 * (macs + remotePods)))
        l2.domains.create(id: 1, learnLimit: learnLimit, macAgeSeconds: 0)
        l2.domains.create(id: 2, learnLimit: learnLimit, macAgeSeconds: 0)
        let c0 = g.addInterface("c0", mtu: 9000), up0 = g.addInterface("up0", mtu: 9000)
        _ = l2.attach(c0, to: 1, interfaces: g.interfaces)

        // Gateways exactly as EngineDataplane.setGateway makes them.
        func gateway(_ id: UInt32, address: UInt32) throws -> UInt32 {
            let mac = Self.ctBVIMAC(id)
            guard let i = g.interfaces.add(name: "bvi\(id)", driver: "bvi", mac: MACAddress.bytes(mac), mtu: 1500,
                                           outputNode: bvi.index, driverInstance: -1),
                  l2.attach(i, to: id, interfaces: g.interfaces),
                  l2.macTable.addStatic(domain: id, mac: mac, interface: i)
            else { throw ValidationError("container: could not create the gateway of bridge domain \(id)") }
            try ip4.setAddress(address, prefixLength: prefixLength, interface: i, mac: mac)
            return i
        }
        let bviA = try gateway(1, address: Self.ctGateway(Self.ctNetA))
        let bviB = try gateway(2, address: Self.ctGateway(Self.ctNetB))

        // Underlay and tunnels (network B spans nodes), as in vxlan-encap but in bridge domain 2.
        try ip4.setAddress(Self.vxLocalVTEP, prefixLength: 24, interface: up0, mac: Self.vxUnderlayMAC)
        for k in 0..<tunnels {
            try ip4.addNeighbour(Self.vxRemoteVTEP(k), mac: Self.vxRemoteVTEPMAC(k), interface: up0)
            _ = try vx.createTunnel(name: "vxlan_tunnel\(k)", local: Self.vxLocalVTEP, remote: Self.vxRemoteVTEP(k),
                                    vni: Self.vxVNI, bridgeDomain: 2, mtu: 9000 - VXLANFeature.overhead)
        }
        // Remote pods resolved on bvi2 (weftd learns them by ARP; the adjacency is the same).
        for m in 0..<remotePods {
            try ip4.addNeighbour(Self.ctPodIP(Self.ctNetB, m), mac: Self.vxRemoteMACBase + UInt64(m), interface: bviB)
        }
        let b = ContainerBench(g: g, l2: l2, c0: c0, up0: up0, bviA: bviA, bviB: bviB)

        // Warm-up: every remote pod's MAC learned on its tunnel (decapsulated
        // broadcasts, flooded to bvi2, where ip4-lookup drops them: no route to
        // 10.10.0.2, nor for the ICMP errors), then every local pod's MAC on c0
        // (one pass of the measured stream, out of up0).
        let vxb = VXLANBench(g: g, l2: l2, c0: c0, up0: up0, remoteMACs: remotePods)
        g.pgInput.add(vxDecapStream(vxb, innerDst: 0xFFFF_FFFF_FFFF, dstModulo: 0, count: remotePods))
        g.run()
        g.pgInput.add(containerStream(b, count: max(macs, ctDestinations)))
        g.run()
        guard l2.macTable.count == macs + remotePods + 2 else {
            throw ValidationError("container warm-up learned \(l2.macTable.count) of \(macs + remotePods) MACs (+ 2 gateways)")
        }
        guard g.buffersInFlight == 0 else { throw ValidationError("container warm-up left \(g.buffersInFlight) buffers in flight") }
        return b
    }

    /// A pod's frame to bvi1: local pod `local` -> remote pod `remote`.
    func ctFrame(local: Int, remote: Int) -> [UInt8] {
        ip4Frame(dstMAC: Self.ctBVIMAC(1), srcMAC: Self.vxLocalMACBase + UInt64(local),
                 src: Self.ctPodIP(Self.ctNetA, local), dst: Self.ctPodIP(Self.ctNetB, remote))
    }

    /// Template k: remote pod k * remotePods / templates (valid checksums);
    /// the source MAC cycles over the local pods (bytes 10-11).
    func containerStream(_ b: ContainerBench, count: Int) -> PacketStream {
        let t = ctDestinations, remotePods = ctRemotePods
        let templates = (0..<t).map { k in ctFrame(local: k % macs, remote: k * remotePods / t) }
        return PacketStream(frames: templates, rxInterface: b.c0, count: count, burst: vector,
                            increments: [.init(offset: 10, width: 2, modulo: UInt64(macs))])
    }

    /// One packet through the warmed-up graph, checked byte by byte: it must
    /// leave up0 alone, VXLAN-encapsulated to the remote pod's VTEP.
    func verifyContainer(_ b: ContainerBench) throws {
        let local = macs - 1, remote = ctRemotePods - 1, tunnel = remote % ctTunnels
        let g = b.g
        let pgPorts = [b.c0, b.up0]
        let txBefore = pgPorts.map { g.interfaces.txPackets[Int($0)] }
        g.pgOutput.clearCapture()
        g.pgOutput.captureEnabled = true
        g.inject([ctFrame(local: local, remote: remote)], on: b.c0)
        g.run()
        g.pgOutput.captureEnabled = false
        let captured = g.pgOutput.captured
        g.pgOutput.clearCapture()

        // The pg ports' transmit counters (bvi2 and the tunnel count their own tx too).
        let sent = pgPorts.indices.filter { g.interfaces.txPackets[Int(pgPorts[$0])] != txBefore[$0] }.map { pgPorts[$0] }
        guard sent == [b.up0], captured.count == 1, let frames = captured[b.up0], frames.count == 1 else {
            let errors = g.graph.errorNames.indices.filter { g.graph.errorCounters[$0] != 0 }
                .map { "\(g.graph.errorNames[$0].node)/\(g.graph.errorNames[$0].name)=\(g.graph.errorCounters[$0])" }
            throw ValidationError("container check: expected 1 packet on up0, got \(captured.mapValues(\.count)) "
                                  + "(pg ports transmitting: \(sent.map { g.interfaces.name($0) }); errors since start: \(errors))")
        }
        let f = frames[0]
        var wrong: [String] = []
        func be(_ at: Int, _ n: Int) -> UInt64 { f[at..<at + n].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        func expect(_ what: String, _ at: Int, _ n: Int, _ value: UInt64) {
            guard at + n <= f.count else { wrong.append("\(what): frame too short"); return }
            let got = be(at, n)
            if got != value { wrong.append("\(what): \(String(got, radix: 16)), expected \(String(value, radix: 16))") }
        }
        let o = VXLANFeature.overhead                       // 50: the inner frame's offset
        if f.count != frameLength + o { wrong.append("length \(f.count), expected \(frameLength + o)") }
        expect("outer dst MAC (remote VTEP \(tunnel))", 0, 6, Self.vxRemoteVTEPMAC(tunnel))
        expect("outer src MAC (up0)", 6, 6, Self.vxUnderlayMAC)
        expect("outer ethertype", 12, 2, 0x0800)
        expect("outer version/IHL", 14, 1, 0x45)
        expect("outer protocol", 23, 1, 17)
        expect("outer src IP (local VTEP)", 26, 4, UInt64(Self.vxLocalVTEP))
        expect("outer dst IP (remote VTEP \(tunnel))", 30, 4, UInt64(Self.vxRemoteVTEP(tunnel)))
        expect("outer total length", 16, 2, UInt64(f.count - 14))
        expect("UDP dst port", 36, 2, UInt64(VXLAN.defaultPort))
        expect("VXLAN flags (I)", 42, 1, 0x08)
        expect("VNI", 46, 3, UInt64(Self.vxVNI))
        expect("inner dst MAC (remote pod \(remote))", o, 6, Self.vxRemoteMACBase + UInt64(remote))
        expect("inner src MAC (bvi2)", o + 6, 6, Self.ctBVIMAC(2))
        expect("inner ethertype", o + 12, 2, 0x0800)
        expect("inner TTL (64 - 1)", o + 22, 1, 63)
        expect("inner src IP", o + 26, 4, UInt64(Self.ctPodIP(Self.ctNetA, local)))
        expect("inner dst IP", o + 30, 4, UInt64(Self.ctPodIP(Self.ctNetB, remote)))
        if f.count >= o + 34 {
            f.withUnsafeBytes { p in
                if !IPv4.headerChecksumValid(p.baseAddress! + 14, headerLength: 20) { wrong.append("outer IPv4 header checksum invalid") }
                if !IPv4.headerChecksumValid(p.baseAddress! + o + 14, headerLength: 20) { wrong.append("inner IPv4 header checksum invalid") }
            }
        }
        guard wrong.isEmpty else {
            let hex = f.prefix(o + 34).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ValidationError("container check: the packet out of up0 is wrong:\n  " + wrong.joined(separator: "\n  ") + "\n  bytes: \(hex)")
        }
    }
}
