// weft-fuzz-packet: raw frames through ethernet-input and every node they
// can reach (docs/fuzzing.md), on the embedded (I/O-free) graph of
// Topology.swift. After every input the graph must be idle with every
// buffer back in the pool: a leak or a stuck frame aborts, and libFuzzer
// keeps the input.
//
// Input: byte 0 = flags (high nibble 8: first age every table with the
// clock moved on, then learn again; slow, hence one value in 16. Bit 0x04:
// trace the input's packets and format the trace. Bit 0x01: also complete
// each frame's TCP/UDP checksum as af-packet-output and tap-output do for a
// frame its sender left CHECKSUM_PARTIAL, in a copy of exactly the frame's
// size so any read past it is an ASan report), then up to 16 records
// [port][length, 2 bytes big endian][frame]; port picks p1, p2, p3, p4,
// up0 or p5 (modulo 6); a length beyond the input takes the rest, frames
// longer than a buffer are cut to 1920 bytes.
//
// WEFT_FUZZ_WRITE_SEEDS=DIR writes the seed corpus (valid frames for the
// topology) into DIR and exits.
#if canImport(Glibc)
import Glibc
#endif
import WeftEngine
import WeftFuzzDriver
import WeftIO
import WeftPacket

let topology: Topology
do { topology = try Topology() } catch { fatalError("weft-fuzz-packet: cannot build the graph: \(error)") }
let g = topology.g
let inFlightAtStart = g.buffersInFlight
fuzzCheck(inFlightAtStart == 0 && g.graph.framesInUse == 0, "warm-up left \(inFlightAtStart) buffers in flight")
let pgInputIndex = g.graph.nodeIndex(named: "pg-input")!

/// Non-zero error counters, for the leak message.
func errorCounters() -> String {
    g.graph.errorNames.indices.filter { g.graph.errorCounters[$0] != 0 }
        .map { "\(g.graph.errorNames[$0].node)/\(g.graph.errorNames[$0].name)=\(g.graph.errorCounters[$0])" }
        .joined(separator: " ")
}

/// Splits an input into (flags, [(port, frame)]).
func records(_ data: UnsafeRawBufferPointer) -> (UInt8, [(UInt32, [UInt8])]) {
    guard let flags = data.first else { return (0, []) }
    var out: [(UInt32, [UInt8])] = []
    var at = 1
    while at < data.count && out.count < 16 {
        let port = topology.ports[Int(data[at]) % topology.ports.count]
        at += 1
        var length = data.count - at
        if at + 2 <= data.count {
            length = min(Int(data[at]) << 8 | Int(data[at + 1]), data.count - at - 2)
            at += 2
        }
        let n = min(length, BufferPool.maxDataLength)
        if n > 0 { out.append((port, Array(data[at..<at + n]))) }
        at += max(length, 0)
    }
    return (flags, out)
}

if let dir = getenv("WEFT_FUZZ_WRITE_SEEDS").map({ String(cString: $0) }) {
    for (name, bytes) in Seeds.all(topology) {
        let path = "\(dir)/\(name)"
        guard let f = fopen(path, "wb") else { fatalError("cannot write \(path)") }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }
    exit(0)
}

runFuzzer { data in
    let (flags, frames) = records(data)
    if flags & 0xF0 == 0x80 { topology.ageAll() }
    if flags & 0x04 != 0 { g.graph.trace.arm(node: pgInputIndex, count: frames.count) }
    if flags & 0x01 != 0 {
        for (_, frame) in frames {
            let copy = UnsafeMutableRawPointer.allocate(byteCount: frame.count, alignment: 8)
            copy.copyMemory(from: frame, byteCount: frame.count)
            Checksum.completeEthernetL4(frame: copy, length: frame.count)
            copy.deallocate()
        }
    }
    for (port, frame) in frames { g.pgInput.add(PacketStream(frames: [frame], rxInterface: port)) }
    g.run()
    if flags & 0x04 != 0 {
        for r in g.graph.trace.snapshot() { _ = g.graph.nodes[Int(r.node)].formatTrace(r) }
        g.graph.trace.clear()
    }
    fuzzCheck(g.graph.framesInUse == 0, "\(g.graph.framesInUse) frames still pending after the run")
    fuzzCheck(g.buffersInFlight == inFlightAtStart,
              "buffer leak: \(g.buffersInFlight - inFlightAtStart) buffers in flight after the input (\(errorCounters()))")
}
