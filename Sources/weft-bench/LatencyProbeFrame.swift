import Foundation
import WeftPacket

/// Where `weft-bench latency` keeps its probe data in a frame, and how it
/// finds it again after the datapath changed the frame.
///
/// The probe trailer is the last 16 bytes of the innermost UDP payload:
/// magic "WLAT" (4), sequence number (4, big endian), send time (8, big
/// endian, CLOCK_REALTIME ns). The innermost UDP payload is what every
/// datapath of benchmarks/e2e.sh leaves intact: VXLAN encapsulation adds 50
/// bytes in front, decapsulation removes them, NAT44 rewrites addresses,
/// ports and checksums. Both the sender (on its template) and the receiver
/// (on every arriving frame) locate the trailer the same way, from the
/// headers rather than the frame length (so padding a datapath may add
/// behind a short frame does not move it): Ethernet (type 0x0800), IPv4
/// (protocol UDP; the datagram ends at its total length), and, when the
/// UDP destination port is 4789 (VXLAN), once more on the Ethernet frame
/// 8 bytes after the UDP header; the trailer ends where the innermost IPv4
/// datagram ends. The receiver then checks the magic.
///
/// Checksums: the probe rewrites 12 bytes of the payload for every frame,
/// so every UDP checksum covering the trailer (the innermost one and, in a
/// VXLAN template, the outer one) is set to 0 in the template: "no
/// checksum", allowed for UDP over IPv4 (RFC 768; RFC 7348 recommends it
/// for VXLAN). weftd does not verify UDP checksums (ip4-input checks the IPv4
/// header only; its NAT44 keeps a zero UDP checksum zero), and the kernel
/// (conntrack, vxlan, the sink's UDP) accepts zero. The IPv4 header
/// checksums do not cover the payload and stay valid.
enum LatencyProbeFrame {
    static let trailerLength = 16
    static let magic: [UInt8] = Array("WLAT".utf8)
    /// The magic ("WLAT") as one word in host order, a literal so that the
    /// receive path compares against a constant (no lazy global per frame).
    static let magicWord: UInt32 = 0x574C_4154

    struct Layout: Equatable {
        /// Offset of the 16-byte trailer.
        var trailer: Int
        /// Offsets of the UDP headers enclosing it (outer first): at most two.
        var udpHeaders: [Int]
    }

    /// Walks Ethernet/IPv4/UDP (into VXLAN once) to the trailer: its offset,
    /// or nil if the frame has no room for it. `udp` sees each enclosing UDP
    /// header, outer first. Allocates nothing: the receive path runs it per frame.
    @inline(__always)
    static func trailerOffset(_ f: UnsafeRawBufferPointer, length: Int, udp: (Int) -> Void = { _ in }) -> Int? {
        guard let p = f.baseAddress else { return nil }
        var eth = 0
        for depth in 0..<2 {
            let ip = eth + Ethernet.headerLength
            guard length >= ip + IPv4.minHeaderLength + UDP.headerLength,
                  Ethernet.u16(p + eth, 12) == Ethernet.typeIPv4,
                  f[ip] >> 4 == 4, f[ip + IPv4.offsetProtocol] == IPv4.protocolUDP else { return nil }
            let ihl = IPv4.headerLength(p + ip)
            let end = ip + Int(IPv4.u16(p + ip, IPv4.offsetTotalLength))
            let u = ip + ihl
            guard ihl >= IPv4.minHeaderLength, end <= length, end >= u + UDP.headerLength + trailerLength else { return nil }
            udp(u)
            let dport = UDP.destinationPort(p + u)
            let inner = u + UDP.headerLength + VXLAN.headerLength
            if depth == 0, dport == VXLAN.defaultPort,
               end >= inner + Ethernet.headerLength + IPv4.minHeaderLength + UDP.headerLength + trailerLength {
                eth = inner
                continue
            }
            return end - trailerLength
        }
        return nil
    }

    /// The trailer's offset and the enclosing UDP headers (templates, once).
    static func layout(_ f: UnsafeRawBufferPointer, length: Int) -> Layout? {
        var udps: [Int] = []
        guard let trailer = trailerOffset(f, length: length, udp: { udps.append($0) }) else { return nil }
        return Layout(trailer: trailer, udpHeaders: udps)
    }

    static func layout(_ frame: [UInt8]) -> Layout? {
        frame.withUnsafeBytes { layout($0, length: frame.count) }
    }

    /// The sequence number and send time of one of our frames, nil for anything else.
    static func parse(_ f: UnsafeRawBufferPointer, length: Int) -> (Int, UInt64)? {
        guard let t = trailerOffset(f, length: length),
              UInt32(bigEndian: f.loadUnaligned(fromByteOffset: t, as: UInt32.self)) == magicWord else { return nil }
        return (Int(UInt32(bigEndian: f.loadUnaligned(fromByteOffset: t + 4, as: UInt32.self))),
                UInt64(bigEndian: f.loadUnaligned(fromByteOffset: t + 8, as: UInt64.self)))
    }

    /// A template made ready to send: the magic written into its trailer, the
    /// UDP checksums covering it zeroed. Returns the trailer's offset.
    static func prepare(_ frame: inout [UInt8]) -> Int? {
        guard let l = layout(frame) else { return nil }
        for udp in l.udpHeaders { frame[udp + UDP.offsetChecksum] = 0; frame[udp + UDP.offsetChecksum + 1] = 0 }
        frame.replaceSubrange(l.trailer..<l.trailer + 4, with: magic)
        for i in l.trailer + 4..<l.trailer + trailerLength { frame[i] = 0 }
        return l.trailer
    }

    /// Frames of a template file (--template): one frame per line as hex
    /// digits (spaces, ':' and a "0x" before each byte allowed; '#' starts a
    /// comment), e.g. what benchmarks/vxlan-frame.py ... hex prints.
    static func readTemplates(path: String) throws -> [[UInt8]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var frames: [[UInt8]] = []
        for (n, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            line = line.replacingOccurrences(of: "0x", with: "").replacingOccurrences(of: "0X", with: "")
            let digits = line.filter { !$0.isWhitespace && $0 != ":" && $0 != "," }
            if digits.isEmpty { continue }
            guard digits.count % 2 == 0 else { throw TemplateError("\(path):\(n + 1): odd number of hex digits") }
            var frame: [UInt8] = []
            frame.reserveCapacity(digits.count / 2)
            var it = digits.makeIterator()
            while let hi = it.next(), let lo = it.next() {
                guard let b = UInt8(String([hi, lo]), radix: 16) else { throw TemplateError("\(path):\(n + 1): not hex: \(hi)\(lo)") }
                frame.append(b)
            }
            frames.append(frame)
        }
        if frames.isEmpty { throw TemplateError("\(path): no frame (one frame per line, as hex)") }
        return frames
    }

    struct TemplateError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}
