import ArgumentParser
import WeftEngine
import WeftIO
import WeftIP4
import WeftL2
import WeftNAT
import WeftPacket

/// `weft-bench graph nat44`: established-flow NAT44 in2out translation on one core.
///
/// Topology: inside pg port in0 = 10.0.0.1/24 (NAT inside, host 10.0.0.2),
/// outside pg port up0 = 192.0.2.1/24 (the NAT outside address) with the
/// default route via a resolved neighbour 192.0.2.254. `--sessions` UDP flows
/// 10.0.0.2:sport -> 198.51.100.7:dport are created before measuring (one
/// warm-up pass through the real path, so the sessions and their ports are
/// exactly what the dataplane makes); then packets cycle over all flows.
/// The flows vary the source port modulo 2^a and the destination port
/// modulo b, with sessions = 2^a * b (coprime, so every pair occurs once
/// per cycle): e.g. 1000 = 8 x 125, 100000 = 32 x 3125, 1000000 = 64 x 15625.
///
/// Path: in0 -> ethernet-input -> ip4-input -> nat44-in2out -> ip4-lookup ->
/// ip4-rewrite -> pg-output (up0).
extension GraphCommand {
    static let nat44Path = ["ethernet-input", "ip4-input", "nat44-in2out", "ip4-lookup", "ip4-rewrite"]

    var nat44Setup: String {
        let (a, b) = Self.natPortModuli(sessions)
        return "\(sessions) NAT44 UDP sessions (sport mod \(a) x dport mod \(b)), packets cycling over them"
    }

    /// sessions = a * b with a a power of two and b odd (so a, b coprime), both <= 65536.
    static func natPortModuli(_ n: Int) -> (Int, Int) {
        var a = 1, b = n
        while b % 2 == 0 { a *= 2; b /= 2 }
        return (a, b)
    }

    func validateNAT44() throws {
        let (a, b) = Self.natPortModuli(sessions)
        guard sessions >= 1, a <= 65536, b <= 65536 else {
            throw ValidationError("--sessions must be 2^k x odd with both factors <= 65536 (e.g. 1000, 100000, 1000000)")
        }
    }

    func runNAT44() throws -> RunResult {
        try validateNAT44()
        let l2 = L2Feature(macTableCapacity: 1 << 12)
        let ip4 = try IP4Feature(fibTables: 4, fibAlgorithm: fibAlgorithm, groupCapacity: 1024, adjacencyCapacity: 1024, neighbourCapacity: 1024)
        let nat = try NAT44Feature(config: NAT44Config(maxSessions: sessions), ip4: ip4)
        let g = try EmbeddedGraph(buffers: 16384) { l2.register(in: $0); ip4.register(in: $0); nat.register(in: $0) }
        let rx = g.addInterface("in0"), tx = g.addInterface("up0")
        let rxMAC: UInt64 = 0x02_00_00_00_00_01, txMAC: UInt64 = 0x02_00_00_00_01_01, hostMAC: UInt64 = 0x02_AA_00_00_00_02
        let outside: UInt32 = 0xC000_0201                                  // 192.0.2.1
        try ip4.setAddress(0x0A00_0001, prefixLength: 24, interface: rx, mac: rxMAC)
        try ip4.setAddress(outside, prefixLength: 24, interface: tx, mac: txMAC)
        try ip4.addNeighbour(0xC000_02FE, mac: 0x02_BB_00_00_00_FE, interface: tx)
        try ip4.addRoute(IPv4Prefix(address: 0, length: 0)!, via: 0xC000_02FE, interface: tx)
        nat.setOutside(interface: tx, address: outside)
        nat.setInside(interface: rx, true)

        let (a, b) = Self.natPortModuli(sessions)
        let sportBase = a == 65536 ? 0 : 1024, dportBase = b == 65536 ? 0 : 1
        let template = natFrame(dstMAC: rxMAC, srcMAC: hostMAC, src: 0x0A00_0002, dst: 0xC633_6407,   // 198.51.100.7
                                sport: UInt16(sportBase), dport: UInt16(dportBase))
        func stream(_ count: Int) -> PacketStream {
            PacketStream(template: template, rxInterface: rx, count: count, burst: vector,
                         increments: [.init(offset: 34, width: 2, modulo: UInt64(a)), .init(offset: 36, width: 2, modulo: UInt64(b))])
        }
        // Warm-up: one pass over every flow creates the sessions.
        g.pgInput.add(stream(sessions))
        while !g.pgInput.isIdle { g.graph.poll(g.pgInput); g.graph.dispatchPending() }
        g.pgInput.removeAllStreams()
        let made = nat.statistics().sessions
        guard made == sessions else { throw ValidationError("warm-up created \(made) of \(sessions) sessions") }
        return try measure(g, stream: stream(packets), tx: tx, scenario: .nat44)
    }

    /// Ethernet + IPv4 + UDP (checksum 0) of `frameLength` bytes, valid header checksum.
    private func natFrame(dstMAC: UInt64, srcMAC: UInt64, src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16) -> [UInt8] {
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
        let total = frameLength - 14
        var ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0x40, 0, 64, 17, 0, 0] + be32(src) + be32(dst)
        let sum = ip.withUnsafeBytes { Checksum.finish(Checksum.sum($0.baseAddress!, 20)) }
        ip[10] = UInt8(sum >> 8); ip[11] = UInt8(sum & 0xFF)
        ip += be16(sport) + be16(dport) + be16(UInt16(total - 20)) + [0, 0]
        var f = MACAddress.bytes(dstMAC) + MACAddress.bytes(srcMAC) + [0x08, 0x00] + ip
        f += [UInt8](repeating: 0, count: frameLength - f.count)
        return f
    }
}
