import ArgumentParser
import CMallocCounter
import CShims
import Foundation
import WeftEngine
import WeftIO
import WeftL2

/// `weft-bench graph <scenario>`: drives the real nodes with pg-input on one
/// core, no I/O, and reports Mpps, ns and clocks per packet, per-node clocks
/// and allocations per packet (median of N runs).
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Benchmark a node graph scenario with the packet generator (no I/O).")

    enum Scenario: String, ExpressibleByArgument, CaseIterable { case l2 }

    @Argument(help: "Scenario: \(Scenario.allCases.map(\.rawValue).joined(separator: ", "))")
    var scenario: Scenario

    @Option(help: "Measured runs; the median is reported.")
    var runs = 5

    @Option(help: "Packets per run.")
    var packets = 10_000_000

    @Option(help: "Distinct source and destination MACs (all learned before measuring).")
    var macs = 1000

    @Option(help: "Frame length in bytes without FCS (60 = a 64-byte frame on the wire).")
    var frameLength = 60

    @Option(help: "Vector size pg-input produces per poll (1-256).")
    var vector = 256

    @Option(help: "Pin the benchmark thread to this CPU (-1: no pinning).")
    var cpu = 1

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard (1...256).contains(vector) else { throw ValidationError("--vector must be 1...256") }
        guard (1...60000).contains(macs) else { throw ValidationError("--macs must be 1...60000") }
        guard (60...1514).contains(frameLength) else { throw ValidationError("--frame-length must be 60...1514") }
        guard runs >= 1, packets >= 1000 else { throw ValidationError("--runs >= 1 and --packets >= 1000") }
    }

    func run() throws {
        if cpu >= 0 { _ = weft_pin_current_thread(Int32(cpu)) }
        let tscHz = Double(weft_tsc_hz())
        var results: [RunResult] = []
        for _ in 0..<runs { results.append(try runL2(tscHz: tscHz)) }
        let report = Report(scenario: scenario.rawValue, packetsPerRun: packets, macs: macs, frameLength: frameLength,
                            vector: vector, tscHz: tscHz, runs: results)
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
        var l2PathClocksPerPacket: Double
        var allocationsPerPacket: Double
        var nodes: [NodeCost]
    }

    static let l2PathNodes = ["ethernet-input", "l2-input", "l2-learn", "l2-fwd", "l2-output"]

    private func runL2(tscHz: Double) throws -> RunResult {
        let l2 = L2Feature(macTableCapacity: 1 << 16)
        let g = try EmbeddedGraph(buffers: 16384) { l2.register(in: $0) }
        l2.domains.create(id: 1, learnLimit: 100_000, macAgeSeconds: 0)
        let rx = g.addInterface("pg0"), tx = g.addInterface("pg1")
        _ = l2.attach(rx, to: 1, interfaces: g.interfaces)
        _ = l2.attach(tx, to: 1, interfaces: g.interfaces)

        let srcBase: UInt64 = 0x02_00_00_01_00_00, dstBase: UInt64 = 0x02_00_00_02_00_00
        func frame(dst: UInt64, src: UInt64) -> [UInt8] {
            var f = MACBytes(dst) + MACBytes(src) + [0x08, 0x00]
            f += [0x45, 0, 0, UInt8(frameLength - 14 >> 8), UInt8((frameLength - 14) & 0xFF), 0, 0, 0x40, 0, 64, 17, 0, 0,
                  10, 0, 0, 1, 10, 0, 0, 2]
            f += [UInt8](repeating: 0, count: frameLength - f.count)
            return f
        }
        // Warm up: every destination MAC learned behind pg1, every source behind pg0.
        g.inject((0..<macs).map { frame(dst: srcBase, src: dstBase + UInt64($0)) }, on: tx)
        g.run()
        g.inject((0..<macs).map { frame(dst: dstBase, src: srcBase + UInt64($0)) }, on: rx)
        g.run()
        precondition(l2.macTable.count == 2 * macs, "warm-up learned \(l2.macTable.count) MACs")

        let stream = PacketStream(
            template: frame(dst: dstBase, src: srcBase), rxInterface: rx, count: packets, burst: vector,
            increments: [.init(offset: 4, width: 2, modulo: UInt64(macs)), .init(offset: 10, width: 2, modulo: UInt64(macs))])
        g.pgInput.add(stream)
        g.graph.clearRuntimeStats()
        let txBefore = g.interfaces.txPackets[Int(tx)]

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

        let forwarded = g.interfaces.txPackets[Int(tx)] - txBefore
        guard forwarded == UInt64(packets) else {
            throw ValidationError("forwarded \(forwarded) of \(packets) packets: the L2 path lost packets")
        }
        let n = Double(packets)
        var nodes: [NodeCost] = []
        for node in g.graph.nodes {
            let i = Int(node.index)
            let vectors = g.graph.statVectors[i], calls = g.graph.statCalls[i]
            guard vectors > 0 else { continue }
            nodes.append(NodeCost(node: node.name, clocksPerPacket: Double(g.graph.statClocks[i]) / n,
                                  vectorsPerCall: Double(vectors) / Double(calls)))
        }
        let l2Path = nodes.filter { Self.l2PathNodes.contains($0.node) }.reduce(0) { $0 + $1.clocksPerPacket }
        let seconds = Double(t1 - t0) / 1e9
        _ = tscHz
        return RunResult(mpps: n / seconds / 1e6, nsPerPacket: seconds * 1e9 / n,
                         clocksPerPacket: Double(c1 - c0) / n, l2PathClocksPerPacket: l2Path,
                         allocationsPerPacket: Double(mallocs) / n, nodes: nodes)
    }

    private func MACBytes(_ m: UInt64) -> [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: m >> UInt64(40 - 8 * $0)) } }

    struct Report: Codable {
        var scenario: String
        var packetsPerRun: Int
        var macs: Int
        var frameLength: Int
        var vector: Int
        var tscHz: Double
        var runs: [RunResult]

        func median(_ f: (RunResult) -> Double) -> Double {
            let v = runs.map(f).sorted()
            return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
        }

        func printTable() {
            func f(_ x: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", x) }
            print("weft-bench graph \(scenario): \(runs.count) runs x \(packetsPerRun) packets, \(frameLength)-byte frames, \(macs) MACs, vector \(vector), TSC \(f(tscHz / 1e9, 2)) GHz")
            print("median: \(f(median(\.mpps), 2)) Mpps  \(f(median(\.nsPerPacket))) ns/packet  \(f(median(\.clocksPerPacket))) clocks/packet (whole loop)")
            print("        L2 path (ethernet-input..l2-output): \(f(median(\.l2PathClocksPerPacket))) clocks/packet")
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
