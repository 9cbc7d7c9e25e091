import ArgumentParser
import CMallocCounter
import CShims
import Foundation
import WeftEngine
import WeftIO
import WeftIP4
import WeftL2
import WeftPacket

/// `weft-bench graph <scenario>`: drives the real nodes with pg-input on one
/// core, no I/O, and reports Mpps, ns and clocks per packet, per-node clocks
/// and allocations per packet (median of N runs).
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Benchmark a node graph scenario with the packet generator (no I/O).")

    enum Scenario: String, ExpressibleByArgument, CaseIterable { case l2, ip4, vxlanEncap = "vxlan-encap", vxlanDecap = "vxlan-decap", nat44, container }

    @Argument(help: "Scenario: \(Scenario.allCases.map(\.rawValue).joined(separator: ", "))")
    var scenario: Scenario

    @Option(help: "Measured runs; the median is reported.")
    var runs = 5

    @Option(help: "Packets per run.")
    var packets = 10_000_000

    @Option(help: "Distinct source and destination MACs (all learned before measuring): l2 up to 1000000; vxlan-*: local MACs (as many remote); container: pods per side.")
    var macs = 1000

    @Option(help: "ip4: /24 routes in the FIB, through resolved next hops.")
    var routes = 1000

    @Option(help: "Structure of the FIB tables in every scenario: dir24-8 (weftd's default) or dxr.")
    var fib: String = FIBAlgorithm.default.rawValue

    @Option(help: "ip4: resolved next-hop neighbours the routes are spread over; vxlan-*, container: tunnels.")
    var nextHops = 16

    @Option(help: "ip4: distinct destination addresses (packet templates), spread over the routes; container: over the remote pods.")
    var destinations = 1024

    @Option(help: "nat44: established UDP sessions created before measuring (2^k x odd, both <= 65536).")
    var sessions = 1000

    @Option(help: "Frame length in bytes without FCS (60 = a 64-byte frame on the wire).")
    var frameLength = 60

    @Option(help: "Vector size pg-input produces per poll (1-256).")
    var vector = 256

    @Option(help: "Pin the benchmark thread to this CPU (-1: no pinning).")
    var cpu = 1

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Capture every packet entering this node into a pcap file in /tmp while measuring (drained every 10 ms, as weftd does); counts go to stderr.")
    var captureNode: String?

    /// The FIB structure chosen with --fib (validated).
    var fibAlgorithm: FIBAlgorithm { FIBAlgorithm(rawValue: fib) ?? .default }

    func validate() throws {
        guard (1...256).contains(vector) else { throw ValidationError("--vector must be 1...256") }
        switch scenario {
        case .l2:
            guard (1...Self.maxL2MACs).contains(macs) else { throw ValidationError("--macs must be 1...\(Self.maxL2MACs) for l2") }
        case .vxlanEncap, .vxlanDecap:
            // Local + remote MACs must fit the scenario's 1 << 16 MAC table (7/8 usable).
            let remote = (macs + nextHops - 1) / nextHops * nextHops
            guard macs >= 1, macs + remote <= 57344 else {
                throw ValidationError("--macs: \(scenario.rawValue) learns --macs local and as many remote MACs (rounded up to the tunnels), at most 57344 in all")
            }
        default:
            guard (1...60000).contains(macs) else { throw ValidationError("--macs must be 1...60000") }
        }
        guard (60...1514).contains(frameLength) else { throw ValidationError("--frame-length must be 60...1514") }
        guard runs >= 1, packets >= 1000 else { throw ValidationError("--runs >= 1 and --packets >= 1000") }
        guard FIBAlgorithm(rawValue: fib) != nil else {
            throw ValidationError("--fib must be one of \(FIBAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...1_000_000).contains(routes) else { throw ValidationError("--routes must be 1...1000000") }
        guard (1...250).contains(nextHops) else { throw ValidationError("--next-hops must be 1...250") }
        guard (1...4096).contains(destinations) else { throw ValidationError("--destinations must be 1...4096") }
    }

    func run() throws {
        if cpu >= 0 { _ = weft_pin_current_thread(Int32(cpu)) }
        let tscHz = Double(weft_tsc_hz())
        var results: [RunResult] = []
        for _ in 0..<runs {
            switch scenario {
            case .l2: results.append(try runL2(tscHz: tscHz))
            case .ip4: results.append(try runIP4())
            case .nat44: results.append(try runNAT44())
            case .vxlanEncap: results.append(try runVXLANEncap())
            case .vxlanDecap: results.append(try runVXLANDecap())
            case .container: results.append(try runContainer())
            }
        }
        let setup = scenario == .l2 ? "\(macs) MACs (MAC table \(l2TableSlots) slots)"
            : scenario == .nat44 ? nat44Setup
            : scenario == .vxlanEncap || scenario == .vxlanDecap ? vxlanSetup
            : scenario == .container ? containerSetup
            : "\(routes) routes via \(nextHops) next hops, \(min(destinations, routes)) destinations, \(fib) FIB"
        let report = Report(scenario: scenario.rawValue, packetsPerRun: packets, setup: setup, frameLength: frameLength,
                            vector: vector, tscHz: tscHz, pathNodes: Self.pathNodes[scenario]!, runs: results)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(report), as: UTF8.self))
        } else {
            report.printTable()
        }
    }

    struct NodeCost: Codable { var node: String; var clocksPerPacket: Double; var vectorsPerCall: Double }

    struct RunResult: Codable {
        var mpps: Double
        var nsPerPacket: Double
        var clocksPerPacket: Double
        /// Sum of the scenario's path nodes (`Report.pathNodes`).
        var pathClocksPerPacket: Double
        var allocationsPerPacket: Double
        var nodes: [NodeCost]
    }

    static let pathNodes: [Scenario: [String]] = [
        .l2: ["ethernet-input", "l2-input", "l2-learn", "l2-fwd", "l2-output"],
        .ip4: ["ethernet-input", "ip4-input", "ip4-lookup", "ip4-rewrite"],
        .nat44: nat44Path,
        .vxlanEncap: vxlanEncapPath,
        .vxlanDecap: vxlanDecapPath,
        .container: containerPath,
    ]

    /// Largest `--macs` of the l2 scenario (issue #8 sweeps 1k..1M).
    static let maxL2MACs = 1_000_000

    /// The l2 scenario's MAC table size (MacTable rounds up to a power of two).
    var l2TableSlots: Int { var c = 1 << 16; while c < 4 * macs { c <<= 1 }; return c }

    /// pg0 -> ethernet-input -> l2-input -> l2-learn -> l2-fwd -> l2-output ->
    /// pg-output (pg1) in bridge domain 1: `macs` source MACs 02:00:00:01:00:00 + i
    /// learned on pg0, `macs` destination MACs 02:00:00:02:00:00 + i on pg1
    /// (02:00:01:00:00:00 + i and 02:00:02:00:00:00 + i above 65536 MACs),
    /// packet n from source n % macs to destination n % macs. The MACs are
    /// varied in their low three bytes (offsets 3 and 9): up to 65536 the same
    /// MACs the earlier two-byte increments made. The MAC table holds
    /// 1 << 16 entries, or 4 x the learned MACs when more (at most half full).
    private func runL2(tscHz: Double) throws -> RunResult {
        let l2 = L2Feature(macTableCapacity: l2TableSlots)
        let g = try EmbeddedGraph(buffers: 16384) { l2.register(in: $0) }
        l2.domains.create(id: 1, learnLimit: UInt32(max(100_000, 2 * macs)), macAgeSeconds: 0)
        let rx = g.addInterface("pg0"), tx = g.addInterface("pg1")
        _ = l2.attach(rx, to: 1, interfaces: g.interfaces)
        _ = l2.attach(tx, to: 1, interfaces: g.interfaces)

        // Up to 65536 MACs per side the bases differ in byte 3 (the MACs of
        // earlier versions); beyond, the two ranges would overlap, so they differ in byte 2.
        let (srcBase, dstBase): (UInt64, UInt64) = macs <= 1 << 16 ? (0x02_00_00_01_00_00, 0x02_00_00_02_00_00)
                                                                     : (0x02_00_01_00_00_00, 0x02_00_02_00_00_00)
        func frame(dst: UInt64, src: UInt64) -> [UInt8] {
            ip4Frame(dstMAC: dst, srcMAC: src, src: 0x0A00_0001, dst: 0x0A00_0002)
        }
        let vary = { (offset: Int) in PacketStream.Increment(offset: offset, width: 3, modulo: UInt64(macs)) }
        // Warm up, one vector at a time (any --macs fits the buffer pool):
        // every destination MAC learned behind pg1, every source behind pg0.
        g.pgInput.add(PacketStream(template: frame(dst: srcBase, src: dstBase), rxInterface: tx, count: macs, increments: [vary(9)]))
        g.run(maxPolls: Int.max)
        g.pgInput.add(PacketStream(template: frame(dst: dstBase, src: srcBase), rxInterface: rx, count: macs, increments: [vary(9)]))
        g.run(maxPolls: Int.max)
        guard l2.macTable.count == 2 * macs else { throw ValidationError("l2 warm-up learned \(l2.macTable.count) of \(2 * macs) MACs") }

        let stream = PacketStream(
            template: frame(dst: dstBase, src: srcBase), rxInterface: rx, count: packets, burst: vector,
            increments: [vary(3), vary(9)])
        return try measure(g, stream: stream, tx: tx, scenario: .l2)
    }

    /// pg -> ethernet-input -> ip4-input -> ip4-lookup -> ip4-rewrite -> pg-output:
    /// `routes` /24s (32.0.0.0/24, 32.0.1.0/24, ...) through `nextHops` resolved
    /// neighbours on the transmit interface, `destinations` packet templates
    /// (valid header checksums) cycling over the routes.
    private func runIP4() throws -> RunResult {
        let l2 = L2Feature(macTableCapacity: 1 << 12)
        let ip4 = try IP4Feature(fibTables: 4, fibAlgorithm: fibAlgorithm, groupCapacity: 1024, adjacencyCapacity: 1024, neighbourCapacity: 1024)
        let g = try EmbeddedGraph(buffers: 16384) { l2.register(in: $0); ip4.register(in: $0) }
        let rx = g.addInterface("pg0"), tx = g.addInterface("pg1")
        let rxMAC: UInt64 = 0x02_00_00_00_00_01, txMAC: UInt64 = 0x02_00_00_00_01_01, hostMAC: UInt64 = 0x02_AA_00_00_00_02
        let hostIP: UInt32 = 0x0A00_0002                                   // 10.0.0.2
        try ip4.setAddress(0x0A00_0001, prefixLength: 24, interface: rx, mac: rxMAC)
        try ip4.setAddress(0x0A01_0001, prefixLength: 16, interface: tx, mac: txMAC)
        for k in 0..<nextHops {
            try ip4.addNeighbour(0x0A01_0002 + UInt32(k), mac: 0x02_BB_00_00_00_00 + UInt64(k), interface: tx)
        }
        for r in 0..<routes {
            let prefix = IPv4Prefix(address: 0x2000_0000 + UInt32(r) << 8, length: 24)!
            try ip4.addRoute(prefix, via: 0x0A01_0002 + UInt32(r % nextHops), interface: tx)
        }

        let templates = (0..<min(destinations, routes)).map { k -> [UInt8] in
            let r = k * routes / min(destinations, routes)
            let dst = 0x2000_0000 + UInt32(r) << 8 + UInt32(1 + k % 250)
            return ip4Frame(dstMAC: rxMAC, srcMAC: hostMAC, src: hostIP, dst: dst)
        }
        let stream = PacketStream(frames: templates, rxInterface: rx, count: packets, burst: vector)
        return try measure(g, stream: stream, tx: tx, scenario: .ip4)
    }

    /// Runs `stream` to exhaustion with runtime stats cleared and malloc
    /// counting on; every packet must leave on `tx`, else the lost ones are
    /// reported with the counters that moved.
    func measure(_ g: EmbeddedGraph, stream: PacketStream, tx: UInt32, scenario: Scenario) throws -> RunResult {
        g.pgInput.add(stream)
        g.graph.clearRuntimeStats()
        let txBefore = g.interfaces.txPackets[Int(tx)]

        let capture = try captureNode.map { try startCapture(g, node: $0) }
        weft_malloc_counting(1)
        let mallocsBefore = weft_malloc_calls()
        let t0 = weft_monotonic_ns(), c0 = weft_rdtsc()
        while !g.pgInput.isIdle {
            g.graph.poll(g.pgInput)
            g.graph.dispatchPending()
        }
        let c1 = weft_rdtsc(), t1 = weft_monotonic_ns()
        let mallocs = weft_malloc_calls() - mallocsBefore
        weft_malloc_counting(0)
        if let capture {
            g.graph.setCapture(nil, node: -1)
            let s = capture.stop()
            FileHandle.standardError.write(Data("capture \(capture.path): captured \(s.captured), written \(s.written), overrun \(s.overrun)\n".utf8))
        }

        let forwarded = g.interfaces.txPackets[Int(tx)] - txBefore
        guard forwarded == UInt64(packets) else {
            let errors = g.graph.errorNames.indices.filter { g.graph.errorCounters[$0] != 0 }
                .map { "\(g.graph.errorNames[$0].node)/\(g.graph.errorNames[$0].name)=\(g.graph.errorCounters[$0])" }
            throw ValidationError("forwarded \(forwarded) of \(packets) packets: the \(scenario.rawValue) path lost packets (\(errors))")
        }
        return summarize(g, scenario: scenario, cycles: c1 - c0, nanoseconds: t1 - t0, mallocs: mallocs)
    }

    /// A capture of every packet entering `node`, hooked into the graph (benchmarks the hook on).
    private func startCapture(_ g: EmbeddedGraph, node: String) throws -> PcapCaptureSession {
        guard let index = g.graph.nodeIndex(named: node) else { throw ValidationError("--capture-node: no node \(node)") }
        let writer = try PcapWriter(path: "/tmp/weft-bench-capture.pcap", snaplen: 65535, filter: nil)
        let session = PcapCaptureSession(capture: PacketCapture(match: .all, snaplen: 65535), node: index, writer: writer, count: 0)
        session.start()
        g.graph.setCapture(session.capture, node: index)
        return session
    }

    /// An Ethernet + IPv4 + UDP frame of `frameLength` bytes with a valid header checksum.
    func ip4Frame(dstMAC: UInt64, srcMAC: UInt64, src: UInt32, dst: UInt32) -> [UInt8] {
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        let total = frameLength - 14
        var ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0x40, 0, 64, 17, 0, 0] + be32(src) + be32(dst)
        let sum = ip.withUnsafeBytes { Checksum.finish(Checksum.sum($0.baseAddress!, 20)) }
        ip[10] = UInt8(sum >> 8); ip[11] = UInt8(sum & 0xFF)
        let udpLength = total - 20
        ip += [0x9C, 0x40, 0x00, 0x07, UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0]
        var f = MACAddress.bytes(dstMAC) + MACAddress.bytes(srcMAC) + [0x08, 0x00] + ip
        f += [UInt8](repeating: 0, count: frameLength - f.count)
        return f
    }

    private func summarize(_ g: EmbeddedGraph, scenario: Scenario, cycles: UInt64, nanoseconds: UInt64, mallocs: UInt64) -> RunResult {
        let n = Double(packets)
        var nodes: [NodeCost] = []
        for node in g.graph.nodes {
            let i = Int(node.index)
            let vectors = g.graph.statVectors[i], calls = g.graph.statCalls[i]
            guard vectors > 0 else { continue }
            nodes.append(NodeCost(node: node.name, clocksPerPacket: Double(g.graph.statClocks[i]) / n,
                                  vectorsPerCall: Double(vectors) / Double(calls)))
        }
        let path = nodes.filter { Self.pathNodes[scenario]!.contains($0.node) }.reduce(0) { $0 + $1.clocksPerPacket }
        let seconds = Double(nanoseconds) / 1e9
        return RunResult(mpps: n / seconds / 1e6, nsPerPacket: seconds * 1e9 / n,
                         clocksPerPacket: Double(cycles) / n, pathClocksPerPacket: path,
                         allocationsPerPacket: Double(mallocs) / n, nodes: nodes)
    }

    struct Report: Codable {
        var scenario: String
        var packetsPerRun: Int
        var setup: String
        var frameLength: Int
        var vector: Int
        var tscHz: Double
        var pathNodes: [String]
        var runs: [RunResult]

        func median(_ f: (RunResult) -> Double) -> Double {
            let v = runs.map(f).sorted()
            return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
        }

        func printTable() {
            func f(_ x: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", x) }
            print("weft-bench graph \(scenario): \(runs.count) runs x \(packetsPerRun) packets, \(frameLength)-byte frames, \(setup), vector \(vector), TSC \(f(tscHz / 1e9, 2)) GHz")
            print("median: \(f(median(\.mpps), 2)) Mpps  \(f(median(\.nsPerPacket))) ns/packet  \(f(median(\.clocksPerPacket))) clocks/packet (whole loop)")
            print("        path (\(pathNodes.first!)..\(pathNodes.last!)): \(f(median(\.pathClocksPerPacket))) clocks/packet")
            print("        allocations per packet: \(String(format: "%.6f", median(\.allocationsPerPacket)))")
            print("runs (Mpps): " + runs.map { f($0.mpps, 2) }.joined(separator: " "))
            print("")
            print("Node".padding(toLength: 18, withPad: " ", startingAt: 0) + "Clocks/pkt  Vectors/Call")
            for name in runs[0].nodes.map(\.node) {
                let c = median { r in r.nodes.first { $0.node == name }?.clocksPerPacket ?? 0 }
                let v = median { r in r.nodes.first { $0.node == name }?.vectorsPerCall ?? 0 }
                print(name.padding(toLength: 18, withPad: " ", startingAt: 0) + f(c).leftPad(10) + f(v, 1).leftPad(14))
            }
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
