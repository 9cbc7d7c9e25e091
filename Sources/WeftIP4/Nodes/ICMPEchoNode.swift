import WeftEngine
import WeftPacket

/// icmp-echo: answers ICMP echo requests addressed to the router (ping of a
/// gateway or uplink address) in the same buffer: source and destination
/// swapped, type 0, ICMP checksum updated incrementally (RFC 1624), TTL 64,
/// IP header checksum recomputed, the old L2 header dropped. The reply is
/// marked locally originated and goes back through ip4-lookup and
/// ip4-rewrite like any routed packet. Other ICMP messages to the router
/// (echo replies, errors) are consumed under a counter.
///
/// Uses: l3Offset, dataOffset, length. Sets: dataOffset, length (= the IP
/// packet), flags (+ip4LocallyOriginated, -multicast).
public final class ICMPEchoNode: GraphNode {
    public enum Next: String, NodeNext {
        case lookup = "ip4-lookup"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case repliesSent = "replies-sent"
        case tooShort = "too-short"
        case badChecksum = "bad-checksum"
        case notEchoRequest = "not-echo-request"
        public var help: String {
            switch self {
            case .repliesSent: return "echo replies sent"
            case .tooShort: return "ICMP message shorter than 8 bytes"
            case .badChecksum: return "ICMP checksum is wrong"
            case .notEchoRequest: return "ICMP to the router other than echo request (consumed)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "icmp-echo", next: Next.self, errors: Error.self)

    var toLookup = Int32(0)
    var errReplies = UInt32(0), errTooShort = UInt32(0), errChecksum = UInt32(0), errNotEcho = UInt32(0)

    public init() { super.init(registration: Self.registration) }

    public override func didResolve(_ graph: Graph) {
        toLookup = nextIndex(Next.lookup)
        errReplies = errorIndex(Error.repliesSent)
        errTooShort = errorIndex(Error.tooShort)
        errChecksum = errorIndex(Error.badChecksum)
        errNotEcho = errorIndex(Error.notEchoRequest)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let tracing = graph.trace.enabled
        var out = NextCursor(to: toLookup)
        defer { graph.close(&out) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let l3 = Int(m.pointee.l3Offset)
            let ip = graph.data(bi) + l3
            let hl = IPv4.headerLength(ip)
            let total = Int(IPv4.u16(ip, IPv4.offsetTotalLength))
            let icmp = ip + hl
            let icmpLength = total &- hl
            if _slowPath(icmpLength < ICMP.headerLength) { graph.drop(bi, error: errTooShort); continue }
            let type = icmp.load(as: UInt8.self)
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(type), b: UInt64(IPv4.source(ip)), c: UInt64(IPv4.u16(icmp, 6))) }
            if _slowPath(type != ICMP.typeEchoRequest) { graph.drop(bi, error: errNotEcho); continue }
            if _slowPath(Checksum.fold(Checksum.sum(icmp, icmpLength)) != 0xFFFF) { graph.drop(bi, error: errChecksum); continue }
            // Type 8 -> 0: the word type<<8|code loses 0x0800; HC' = ~(~HC + ~m + m') = ~(~HC + 0xF7FF).
            icmp.storeBytes(of: ICMP.typeEchoReply, as: UInt8.self)
            IPv4.adjustChecksum(icmp, 2, by: 0xF7FF)
            let src = IPv4.source(ip), dst = IPv4.destination(ip)
            IPv4.store32(dst, ip, IPv4.offsetSource)
            IPv4.store32(src, ip, IPv4.offsetDestination)
            ip.storeBytes(of: 64, toByteOffset: IPv4.offsetTTL, as: UInt8.self)
            IPv4.setHeaderChecksum(ip, headerLength: hl)
            m.pointee.dataOffset = UInt16(truncatingIfNeeded: l3)
            m.pointee.length = UInt16(truncatingIfNeeded: total)
            var flags = m.pointee.flags
            flags.insert(.ip4LocallyOriginated)
            flags.remove(.multicast)
            m.pointee.flags = flags
            graph.count(errReplies)
            graph.put(bi, &out)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "icmp-echo: type \(r.a) from \(IPv4.format(UInt32(truncatingIfNeeded: r.b))) seq \(r.c)"
    }
}
