import ArgumentParser
import CShims
import Foundation
import Histogram
import Synchronization

/// `weft-bench latency`: one-way latency through a datapath under a paced
/// load. A sender thread in the generator's namespace sends timestamped
/// IPv4/UDP frames at a fixed rate; the receiver, a packet socket in the
/// sink's namespace, takes the kernel's arrival time of each (SO_TIMESTAMPNS,
/// the same clock on one machine) and records arrival minus send time in an
/// HdrHistogram. Frames not seen count as lost; what the probe socket itself
/// dropped (its buffer full) is reported apart, so it is not blamed on the
/// datapath. Used by benchmarks/e2e.sh --latency at 10/50/90% of each
/// datapath's NDR. With --template the frames are given (e.g. VXLAN, or
/// many NAT flows) instead of built here; the probe data sits at the end of
/// the innermost UDP payload either way (LatencyProbeFrame), so frames that
/// the datapath encapsulated, decapsulated or translated are still matched.
struct LatencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "One-way latency through a datapath at a paced rate (HdrHistogram percentiles).")

    @Option(help: "Network namespace the frames are sent from (path, e.g. /var/run/netns/gen).")
    var txNetns: String
    @Option(help: "Interface in --tx-netns that sends.")
    var txIf: String
    @Option(help: "Network namespace the frames arrive in.")
    var rxNetns: String
    @Option(help: "Interface in --rx-netns that receives.")
    var rxIf: String
    @Option(help: "Destination MAC of the frames (the sink's, or the datapath's gateway when routed); not with --template.")
    var dstMac: String?
    @Option(help: "Source IPv4 address.")
    var srcIp = "10.77.0.1"
    @Option(help: "Destination IPv4 address.")
    var dstIp = "10.77.0.2"
    @Option(help: "Frames per second.")
    var rate: Int
    @Option(help: "Seconds of sending.")
    var duration: Double = 5
    @Option(help: """
        Frame size in bytes including the 4-byte FCS (64..1518), like trafgen's rig; or imix: the frames of \
        benchmarks/trafgen-imix.sh (64, 594 and 1514 bytes as handed to the kernel, 7:4:1, in its order), \
        one frame per send. Default 64; not with --template.
        """)
    var frameSize: String?
    @Option(help: ArgumentHelp("""
        Send these frames instead of built-in ones: a file with one whole Ethernet frame per line as hex \
        (no FCS; e.g. benchmarks/vxlan-frame.py ... hex), sent in turn. Each must be Ethernet/IPv4/UDP, \
        or VXLAN (UDP port 4789) carrying Ethernet/IPv4/UDP, with 16 bytes of innermost UDP payload: \
        its last 16 bytes carry the probe (magic, sequence, send time), and the UDP checksums over them \
        are set to 0. Received frames are matched there, so encapsulated, decapsulated or NAT-translated \
        probes are recognised. Replaces --dst-mac, --src-ip, --dst-ip and --frame-size.
        """, valueName: "file"))
    var template: String?
    @Option(help: "Pin the sender thread to this CPU (-1: no pinning).")
    var txCpu = 0
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false
    @Flag(help: "Only send, paced, without receiving (a rate generator for NDR trials; loss is read from the interface counters). Frames due together go in one sendmmsg.")
    var txOnly = false

    func validate() throws {
        guard rate > 0, rate <= 5_000_000 else { throw ValidationError("--rate must be 1..5000000 frames/s") }
        guard duration > 0, duration <= 600 else { throw ValidationError("--duration must be in (0, 600] seconds") }
        if template != nil {
            guard frameSize == nil, dstMac == nil else { throw ValidationError("--template replaces --frame-size and --dst-mac") }
            return
        }
        let frameSize = frameSize ?? "64"
        guard frameSize == "imix" || (Int(frameSize).map { (64...1518).contains($0) } ?? false) else {
            throw ValidationError("--frame-size must be 64..1518 (with FCS) or imix")
        }
        guard let dstMac else { throw ValidationError("--dst-mac is required (or --template)") }
        guard Self.parseMAC(dstMac) != nil else { throw ValidationError("--dst-mac \(dstMac) is not a MAC; write it like 02:00:00:00:00:02") }
        guard Self.parseIPv4(srcIp) != nil, Self.parseIPv4(dstIp) != nil else {
            throw ValidationError("--src-ip/--dst-ip must be IPv4 addresses like 10.77.0.1")
        }
    }

    func run() throws {
        // (a template file is read first: its mistakes are reported before any socket is opened)
        var templates = try template.map { try LatencyProbeFrame.readTemplates(path: $0) } ?? []
        var txMac = [UInt8](repeating: 0, count: 6), rxMac = [UInt8](repeating: 0, count: 6)
        let txFd = try Self.open(txNetns, txIf, &txMac)
        let rxFd = txOnly ? -1 : try Self.open(rxNetns, rxIf, &rxMac)
        defer { close(txFd); if rxFd >= 0 { close(rxFd) } }

        if template == nil {
            let frameSize = frameSize ?? "64"
            let lengths = frameSize == "imix" ? Self.imixLengths : [Int(frameSize)! - 4]
            templates = lengths.map {
                Self.frame(dst: Self.parseMAC(dstMac!)!, src: txMac, srcIP: Self.parseIPv4(srcIp)!,
                           dstIP: Self.parseIPv4(dstIp)!, length: $0)
            }
        }
        var offsets: [Int] = []
        for i in templates.indices {
            guard (60...9216).contains(templates[i].count), let offset = LatencyProbeFrame.prepare(&templates[i]) else {
                throw ValidationError("frame \(i + 1) (\(templates[i].count) bytes) is not 60..9216 bytes of Ethernet/IPv4/UDP (or VXLAN carrying it) with 16 bytes of UDP payload")
            }
            offsets.append(offset)
        }
        // sendmmsg batches need frames of one length (imix: one frame per send)
        let oneLength = Set(templates.map(\.count)).count == 1
        let state = ProbeState()
        let total = Int((Double(rate) * duration).rounded())
        let interval = 1_000_000_000 / Double(rate)
        let sender = Thread { [txCpu, templates, offsets] in
            if txCpu >= 0 { _ = weft_pin_current_thread(Int32(txCpu)) }
            // Sleeps end when asked, not up to 50 us later (the default slack).
            _ = weft_set_timer_slack(1000)
            Self.send(fd: txFd, templates: templates, offsets: offsets, count: total, interval: interval,
                      batch: txOnly && oneLength ? 64 : 1, state: state)
        }
        sender.start()
        if txOnly {
            while !state.done.load(ordering: .acquiring) { usleep(10_000) }
            let sent = state.sent.load(ordering: .acquiring)
            let elapsed = Double(state.elapsedNs.load(ordering: .acquiring)) / 1e9
            let result = LatencyResult(sent: sent, received: 0, lost: 0, outOfOrder: 0, probeDrops: 0,
                                       late: state.late.load(ordering: .acquiring), ratePps: elapsed > 0 ? Double(sent) / elapsed : 0,
                                       minUs: 0, p50Us: 0, p90Us: 0, p99Us: 0, p999Us: 0, maxUs: 0)
            try emit(result, summary: String(format: "sent %d at %.0f/s (late sends %d); not received (--tx-only)", sent, result.ratePps, result.late))
            return
        }

        // Receive until the sender is done and the datapath has been quiet
        // for 200 ms (frames still queued inside it arrive meanwhile).
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var received = 0, outOfOrder = 0, lastSeq = -1
        var buffer = [UInt8](repeating: 0, count: 16384)
        var quietSince: UInt64 = 0
        while true {
            var rxNs: UInt64 = 0
            let n = buffer.withUnsafeMutableBytes { weft_probe_recv(rxFd, $0.baseAddress, $0.count, 20, &rxNs) }
            if n < 0 { throw ValidationError("receiving on \(rxIf): \(String(cString: strerror(Int32(-n))))") }
            if n > 0, let (seq, txNs) = buffer.withUnsafeBytes({ LatencyProbeFrame.parse($0, length: min(n, $0.count)) }) {
                received += 1
                if seq < lastSeq { outOfOrder += 1 } else { lastSeq = seq }
                if rxNs > txNs { _ = histogram.record((rxNs - txNs)) }
                continue
            }
            if state.done.load(ordering: .acquiring) {
                let now = weft_monotonic_ns()
                if quietSince == 0 { quietSince = now } else if now - quietSince > 200_000_000 { break }
            }
        }
        let sent = state.sent.load(ordering: .acquiring)
        let elapsed = Double(state.elapsedNs.load(ordering: .acquiring)) / 1e9
        let result = LatencyResult(
            sent: sent, received: received, lost: max(0, sent - received), outOfOrder: outOfOrder,
            probeDrops: Int(max(0, weft_probe_drops(rxFd))), late: state.late.load(ordering: .acquiring),
            ratePps: elapsed > 0 ? Double(sent) / elapsed : 0,
            minUs: Self.us(histogram.totalCount > 0 ? histogram.min : 0), p50Us: Self.us(histogram.valueAtPercentile(50)),
            p90Us: Self.us(histogram.valueAtPercentile(90)), p99Us: Self.us(histogram.valueAtPercentile(99)),
            p999Us: Self.us(histogram.valueAtPercentile(99.9)), maxUs: Self.us(histogram.totalCount > 0 ? histogram.max : 0))
        try emit(result, summary:
            String(format: "sent %d at %.0f/s, received %d, lost %d (probe socket drops %d, out of order %d, late sends %d)\n",
                   sent, result.ratePps, received, result.lost, result.probeDrops, outOfOrder, result.late)
            + String(format: "one-way latency us: min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f",
                     result.minUs, result.p50Us, result.p90Us, result.p99Us, result.p999Us, result.maxUs))
    }

    func emit(_ result: LatencyResult, summary: String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(summary)
        }
    }

    struct LatencyResult: Encodable {
        var sent, received, lost, outOfOrder, probeDrops, late: Int
        var ratePps, minUs, p50Us, p90Us, p99Us, p999Us, maxUs: Double
    }

    final class ProbeState: Sendable {
        let sent = Atomic<Int>(0)
        let late = Atomic<Int>(0)
        let elapsedNs = Atomic<UInt64>(0)
        let done = Atomic<Bool>(false)
    }

    /// Paced sending: wait until the next frame is due (sleep when it is far,
    /// spin when near), stamp it, send it. With `batch` 1 every frame has its
    /// own send, so the stamp is its own send time (a batch stamped at once
    /// would charge the datapath with the probe's queueing); a generator
    /// (--tx-only) sends all frames due by now in one sendmmsg of up to
    /// `batch`. A frame sent more than 1 ms after its due time counts as
    /// late: then the probe, not the datapath, shaped the load, and the
    /// achieved rate says by how much.
    /// `templates` are sent in turn (frame `seq` is `templates[seq % count]`, its
    /// probe trailer at `offsets[seq % count]`); with templates of different
    /// lengths, `batch` must be 1 (sendmmsg here sends frames of one length).
    static func send(fd: Int32, templates: [[UInt8]], offsets: [Int], count: Int, interval: Double, batch batchMax: Int, state: ProbeState) {
        precondition(batchMax == 1 || Set(templates.map(\.count)).count == 1)
        let maxLength = templates.map(\.count).max()!
        var length = templates[0].count
        var frames = [UInt8](repeating: 0, count: maxLength * batchMax)
        for i in 0..<batchMax { frames.replaceSubrange(i * length..<(i + 1) * length, with: templates[0]) }
        // Several templates live side by side in one buffer, laid out once: a
        // single frame is stamped and sent where it lies, a batch is copied
        // from there (no array retained or copied per frame).
        var flat = templates.flatMap { $0 }
        let lengths = templates.map(\.count)
        var starts = [Int]()
        var at = 0
        for t in templates { starts.append(at); at += t.count }
        let start = weft_realtime_ns()
        var seq = 0
        var late = 0
        flat.withUnsafeMutableBytes { all in
        frames.withUnsafeMutableBytes { raw in
            while seq < count {
                let due = start &+ UInt64(Double(seq) * interval)
                var now = weft_realtime_ns()
                if now < due {
                    if due - now > 200_000 { usleep(UInt32((due - now - 100_000) / 1000)) }
                    while now < due { weft_cpu_relax(); now = weft_realtime_ns() }
                } else if now - due > 1_000_000 {
                    late += 1
                }
                let dueNow = Int(Double(now - start) / interval) + 1
                let n = max(1, min(batchMax, count - seq, dueNow - seq))
                var out = raw.baseAddress!
                if templates.count > 1 {
                    if batchMax == 1 {
                        let k = seq % templates.count
                        out = all.baseAddress! + starts[k]
                        length = lengths[k]
                    } else {
                        for i in 0..<n {
                            let k = (seq + i) % templates.count
                            length = lengths[k]
                            (raw.baseAddress! + i * length).copyMemory(from: all.baseAddress! + starts[k], byteCount: length)
                        }
                    }
                }
                let stamp = weft_realtime_ns()
                for i in 0..<n {
                    let trailer = i * length + offsets[(seq + i) % offsets.count]
                    (out + trailer + 4).storeBytes(of: UInt32(truncatingIfNeeded: seq + i).bigEndian, as: UInt32.self)
                    (out + trailer + 8).storeBytes(of: stamp.bigEndian, as: UInt64.self)
                }
                // A full socket queue (ENOBUFS) sends fewer or none: the rest goes next round.
                let sent = weft_probe_send(fd, out, length, Int32(n))
                if sent > 0 { seq += sent } else { weft_cpu_relax() }
                if seq & 255 == 0 { state.sent.store(seq, ordering: .releasing) }
            }
        }
        }
        state.elapsedNs.store(weft_realtime_ns() - start, ordering: .releasing)
        state.late.store(late, ordering: .releasing)
        state.sent.store(seq, ordering: .releasing)
        state.done.store(true, ordering: .releasing)
    }

    /// The simple IMIX as handed to the kernel (no FCS), in trafgen-imix.sh's order.
    static let imixLengths = [64, 594, 64, 594, 64, 1514, 64, 594, 64, 594, 64, 64]

    /// A built-in frame: Ethernet (14) + IPv4 (20) + UDP (8), then a zero payload
    /// whose last 16 bytes become the probe (LatencyProbeFrame.prepare writes
    /// the magic there), inside the 60 bytes of a minimum frame.
    static func frame(dst: [UInt8], src: [UInt8], srcIP: UInt32, dstIP: UInt32, length: Int) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: length)
        f.replaceSubrange(0..<6, with: dst)
        f.replaceSubrange(6..<12, with: src)
        f[12] = 0x08; f[13] = 0x00
        let ipLength = length - 14
        let ip: [UInt8] = [0x45, 0, UInt8(ipLength >> 8), UInt8(ipLength & 0xff), 0, 0, 0x40, 0, 64, 17, 0, 0,
                           UInt8(srcIP >> 24), UInt8(srcIP >> 16 & 0xff), UInt8(srcIP >> 8 & 0xff), UInt8(srcIP & 0xff),
                           UInt8(dstIP >> 24), UInt8(dstIP >> 16 & 0xff), UInt8(dstIP >> 8 & 0xff), UInt8(dstIP & 0xff)]
        f.replaceSubrange(14..<34, with: ip)
        var sum: UInt32 = 0
        for i in stride(from: 14, to: 34, by: 2) { sum += UInt32(f[i]) << 8 | UInt32(f[i + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        f[24] = UInt8(checksum >> 8); f[25] = UInt8(checksum & 0xff)
        let udpLength = ipLength - 20
        // UDP 9000 -> 9 (discard), checksum 0 (none).
        f.replaceSubrange(34..<42, with: [0x23, 0x28, 0, 9, UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0])
        return f
    }

    static func open(_ netns: String, _ ifName: String, _ mac: inout [UInt8]) throws -> Int32 {
        var err = [CChar](repeating: 0, count: 256)
        let fd = mac.withUnsafeMutableBufferPointer { m in
            err.withUnsafeMutableBufferPointer { weft_probe_open(netns, ifName, m.baseAddress, $0.baseAddress, $0.count) }
        }
        if fd < 0 { throw ValidationError(String(cString: err)) }
        return fd
    }

    static func us(_ ns: UInt64) -> Double { (Double(ns) / 100).rounded() / 10 }

    static func parseMAC(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ":")
        guard parts.count == 6 else { return nil }
        let bytes = parts.compactMap { UInt8($0, radix: 16) }
        return bytes.count == 6 ? bytes : nil
    }

    static func parseIPv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard parts.count == 4 else { return nil }
        return parts.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
