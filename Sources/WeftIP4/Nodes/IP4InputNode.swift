import WeftEngine
import WeftPacket

/// ip4-input: checks an IPv4 packet received on a routed (non-bridged)
/// interface before anything trusts its header: version 4, IHL >= 5, header
/// checksum, total length against the frame (a frame shorter than the total
/// length is dropped; a longer one is Ethernet padding and is trimmed), a
/// unicast source (not 0.0.0.0, multicast, reserved or broadcast),
/// a destination that is not multicast/limited broadcast (no multicast
/// routing), and a frame addressed to the interface's MAC (or a group MAC):
/// AF_PACKET receives promiscuously, and a router must not forward what was
/// sent to another host on the segment. The TTL itself is checked where it
/// is decremented (ip4-rewrite): a packet for the router itself is received
/// whatever its TTL, even 0 (RFC 1812 5.3.1), and one to be forwarded with TTL
/// 0 or 1 gets ICMP time exceeded there, as Linux and VPP send.
///
/// A valid packet goes to ip4-lookup, or, when its receiving interface has an
/// input feature (`IP4InterfaceTable.inputFeature`, e.g. nat44-in2out on a
/// masquerading network's BVI), to that node, which sends it on to ip4-lookup.
///
/// A buffer chain (a GSO super-frame) is checked against its total length;
/// only its headers are read, so it goes on whole.
///
/// Uses: dataOffset, length, chainLength, rxInterface, l2Offset, l3Offset. Sets: fibIndex
/// (the receiving interface's table), length (padding trimmed).
public final class IP4InputNode: GraphNode {
    public enum Next: String, NodeNext {
        case lookup = "ip4-lookup"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case disabled = "ip4-disabled"
        case tooShort = "too-short"
        case badVersion = "bad-version"
        case badHeaderLength = "bad-header-length"
        case badChecksum = "bad-checksum"
        case badLength = "bad-length"
        case truncated = "truncated"
        case sourceUnspecified = "source-unspecified"
        case sourceMulticast = "source-multicast"
        case destinationMulticast = "destination-multicast"
        case notOurMAC = "not-our-mac"
        public var help: String {
            switch self {
            case .disabled: return "IPv4 is not enabled on the receiving interface (no address)"
            case .tooShort: return "shorter than an IPv4 header (20 bytes, or IHL x 4)"
            case .badVersion: return "IP version is not 4"
            case .badHeaderLength: return "IHL below 5 (header shorter than 20 bytes)"
            case .badChecksum: return "IPv4 header checksum is wrong"
            case .badLength: return "total length smaller than the header length"
            case .truncated: return "frame shorter than the IPv4 total length"
            case .sourceUnspecified: return "source address 0.0.0.0"
            case .sourceMulticast: return "source address multicast, reserved or broadcast"
            case .destinationMulticast: return "destination multicast or 255.255.255.255 (no multicast routing)"
            case .notOurMAC: return "unicast frame for another MAC (received promiscuously)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "ip4-input", next: Next.self, errors: Error.self)

    let ip4: IP4Feature
    var toLookup = Int32(0)
    var errBase = UInt32(0), errNotOurMAC = UInt32(0)

    public init(ip4: IP4Feature) {
        self.ip4 = ip4
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toLookup = nextIndex(Next.lookup)
        errBase = errorIndex(Error.disabled)
        errNotOurMAC = errorIndex(Error.notOurMAC)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let enabled = ip4.interfaces.enabled
        let ifMAC = ip4.interfaces.mac
        let ifFib = ip4.interfaces.fibIndex
        let feature = ip4.interfaces.inputFeature
        let tracing = graph.trace.enabled
        var out = NextCursor(to: toLookup)
        // To the input feature of the interface (one per vector in practice: a vector comes from one interface).
        var feat = NextCursor(to: -1)
        defer { graph.close(&out); graph.close(&feat) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let base = graph.data(bi)
            let l3 = Int(m.pointee.l3Offset)
            let ip = base + l3
            let rx = Int(m.pointee.rxInterface)
            let l3len = Int(m.pointee.dataOffset) &+ m.pointee.totalLength &- l3
            let e = check(ip, l3len, rx, enabled)
            if tracing {
                graph.traceIfSelected(bi, node: index, a: UInt64(IPv4.source(ip)), b: UInt64(IPv4.destination(ip)),
                                      c: UInt64(ip.load(fromByteOffset: IPv4.offsetProtocol, as: UInt8.self)) | UInt64(ip.load(fromByteOffset: IPv4.offsetTTL, as: UInt8.self)) << 8,
                                      d: UInt64(e))
            }
            if _slowPath(e != 0) { graph.drop(bi, error: errBase &+ e &- 1); continue }
            let dstMAC = Ethernet.destination(base + Int(m.pointee.l2Offset))
            if _slowPath(dstMAC != ifMAC[rx] && !Ethernet.isGroup(dstMAC)) {
                graph.drop(bi, error: errNotOurMAC); continue
            }
            let total = Int(IPv4.u16(ip, IPv4.offsetTotalLength))
            if total != l3len {
                // Padding follows short frames only; a chain (a super-frame) must match exactly.
                if _slowPath(m.pointee.isChained) { graph.drop(bi, error: errBase &+ 6); continue }
                m.pointee.length = UInt16(truncatingIfNeeded: l3 &+ total &- Int(m.pointee.dataOffset))
            }
            m.pointee.fibIndex = ifFib[rx]
            let f = feature[rx]
            if _slowPath(f >= 0) {
                if _slowPath(feat.target != f) { graph.close(&feat); feat = NextCursor(to: f) }
                graph.put(bi, &feat)
                continue
            }
            graph.put(bi, &out)
        }
    }

    /// 0 when the packet passes, else 1 + the error's position in `Error`
    /// (the numbers below follow the order of the cases).
    @inline(__always)
    func check(_ ip: UnsafeMutableRawPointer, _ l3len: Int, _ rx: Int, _ enabled: UnsafeMutablePointer<Bool>) -> UInt32 {
        if _slowPath(!enabled[rx]) { return 1 }
        if _slowPath(l3len < IPv4.minHeaderLength) { return 2 }
        let vihl = ip.load(as: UInt8.self)
        if _slowPath(vihl != 0x45) {
            if vihl >> 4 != 4 { return 3 }
            let hl = Int(vihl & 0x0F) &<< 2
            if hl < IPv4.minHeaderLength { return 4 }
            if hl > l3len { return 2 }
            if !IPv4.headerChecksumValid(ip, headerLength: hl) { return 5 }
            let total = Int(IPv4.u16(ip, IPv4.offsetTotalLength))
            if total < hl { return 6 }
        } else {
            if _slowPath(IPv4.headerSum20(ip) != 0xFFFF) { return 5 }
            if _slowPath(Int(IPv4.u16(ip, IPv4.offsetTotalLength)) < IPv4.minHeaderLength) { return 6 }
        }
        if _slowPath(Int(IPv4.u16(ip, IPv4.offsetTotalLength)) > l3len) { return 7 }
        let src = IPv4.source(ip)
        if _slowPath(src == 0) { return 8 }
        if _slowPath(IPv4.isMulticastOrReserved(src)) { return 9 }
        if _slowPath(IPv4.isMulticastOrReserved(IPv4.destination(ip))) { return 10 }
        return 0
    }

    static let traceReasons = Error.allCases.map(\.rawValue)

    public override func formatTrace(_ r: TraceRecord) -> String {
        let verdict = r.d == 0 ? "" : " -> \(Self.traceReasons[Int(r.d) - 1])"
        return "ip4-input: \(IPv4.format(UInt32(truncatingIfNeeded: r.a))) -> \(IPv4.format(UInt32(truncatingIfNeeded: r.b))) proto \(r.c & 0xFF) ttl \(r.c >> 8)\(verdict)"
    }
}
