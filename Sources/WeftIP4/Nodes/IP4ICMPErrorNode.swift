import WeftEngine
import WeftPacket

/// ip4-icmp-error: turns the packet in hand into the ICMP error its sender
/// asked for (metadata `scratch`: time exceeded, destination unreachable,
/// fragmentation needed with the next-hop MTU) and sends it back to the
/// packet's source through ip4-lookup. In the same buffer, 28 bytes in front
/// of the original IP header: a new IPv4 header (source = the receiving
/// interface's address, TTL 64) and the ICMP header, followed by the
/// original IP header and the first 8 bytes of its payload (RFC 792), both
/// checksums computed. The old L2 header is overwritten. About a GSO
/// super-frame (fragmentation needed), the rest of its chain is freed.
///
/// No error is sent about an ICMP error, a non-first fragment, or a packet
/// the router built (RFC 1812 4.3.2.7), and at most
/// `IP4Feature.icmpErrorsPerSecond` are sent (RFC 1812 4.3.2.8).
///
/// An error about a packet NAT44 already translated (fragmentation needed on
/// the uplink: its source is now the router's own outside address) goes to
/// nat44-out2in, when the graph has it, as an error from outside would: it
/// translates the error back to the pod, or path MTU discovery through
/// masquerade breaks (calico#7120).
///
/// Uses: l3Offset, rxInterface, flags, `scratch`. Sets: l3Offset,
/// dataOffset, length (= the new IP packet), flags (+ip4LocallyOriginated,
/// -multicast).
public final class IP4ICMPErrorNode: GraphNode {
    public enum Next: String, NodeNext {
        case lookup = "ip4-lookup"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case timeExceededSent = "time-exceeded-sent"
        case unreachableSent = "unreachable-sent"
        case fragmentationNeededSent = "fragmentation-needed-sent"
        case aboutICMPError = "about-icmp-error"
        case aboutFragment = "about-fragment"
        case aboutOwnPacket = "about-own-packet"
        case rateLimited = "rate-limited"
        case noSourceAddress = "no-source-address"
        public var help: String {
            switch self {
            case .timeExceededSent: return "ICMP time exceeded sent"
            case .unreachableSent: return "ICMP destination unreachable sent"
            case .fragmentationNeededSent: return "ICMP fragmentation needed sent"
            case .aboutICMPError: return "no ICMP error about an ICMP error (dropped)"
            case .aboutFragment: return "no ICMP error about a non-first fragment (dropped)"
            case .aboutOwnPacket: return "no ICMP error about a packet the router built (dropped)"
            case .rateLimited: return "ICMP error not sent: rate limit reached (dropped)"
            case .noSourceAddress: return "ICMP error not sent: receiving interface has no address (dropped)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "ip4-icmp-error", next: Next.self, errors: Error.self)

    /// Bytes added in front of the original IP header.
    static let added = IPv4.minHeaderLength + ICMP.headerLength

    let ip4: IP4Feature
    var toLookup = Int32(0)
    /// nat44-out2in, or -1 in a graph without NAT.
    var toOut2In = Int32(-1)
    var errTimeExceeded = UInt32(0), errUnreachable = UInt32(0), errFragNeeded = UInt32(0), errAboutICMP = UInt32(0)
    var errAboutFragment = UInt32(0), errAboutOwn = UInt32(0), errRateLimited = UInt32(0), errNoSource = UInt32(0)
    var second: UInt32 = 0
    var sentThisSecond: UInt32 = 0

    public init(ip4: IP4Feature) {
        self.ip4 = ip4
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toLookup = nextIndex(Next.lookup)
        toOut2In = graph.nodeIndex(named: "nat44-out2in") ?? -1
        errTimeExceeded = errorIndex(Error.timeExceededSent)
        errUnreachable = errorIndex(Error.unreachableSent)
        errFragNeeded = errorIndex(Error.fragmentationNeededSent)
        errAboutICMP = errorIndex(Error.aboutICMPError)
        errAboutFragment = errorIndex(Error.aboutFragment)
        errAboutOwn = errorIndex(Error.aboutOwnPacket)
        errRateLimited = errorIndex(Error.rateLimited)
        errNoSource = errorIndex(Error.noSourceAddress)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let ifAddress = ip4.interfaces.address
        let limit = ip4.icmpErrorsPerSecond
        let tracing = graph.trace.enabled
        var out = NextCursor(to: toLookup)
        defer { graph.close(&out) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let l3 = Int(m.pointee.l3Offset)
            let base = graph.data(bi)
            let orig = base + l3
            let type = m.pointee.icmpErrorType, code = m.pointee.icmpErrorCode
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(type), b: UInt64(code), c: UInt64(IPv4.source(orig))) }
            if m.pointee.flags.contains(.ip4LocallyOriginated) { graph.drop(bi, error: errAboutOwn); continue }
            if IPv4.u16(orig, IPv4.offsetFragment) & IPv4.fragmentOffsetMask != 0 { graph.drop(bi, error: errAboutFragment); continue }
            let hl = IPv4.headerLength(orig)
            let origTotal = Int(IPv4.u16(orig, IPv4.offsetTotalLength))
            if orig.load(fromByteOffset: IPv4.offsetProtocol, as: UInt8.self) == IPv4.protocolICMP
                && (origTotal <= hl || !ICMP.isQuery((orig + hl).load(as: UInt8.self))) {
                graph.drop(bi, error: errAboutICMP); continue
            }
            let source = ifAddress[Int(m.pointee.rxInterface)]
            if source == 0 { graph.drop(bi, error: errNoSource); continue }
            let now = graph.nowSeconds
            if second != now { second = now; sentThisSecond = 0 }
            if sentThisSecond >= limit { graph.drop(bi, error: errRateLimited); continue }
            sentThisSecond &+= 1

            // Quote the original header and up to 8 bytes of what follows it.
            let quoted = min(origTotal, hl &+ 8)
            let newL3 = l3 &- Self.added
            let ip = base + newL3
            let total = Self.added &+ quoted
            ip.storeBytes(of: 0x45, as: UInt8.self)
            ip.storeBytes(of: 0, toByteOffset: 1, as: UInt8.self)
            IPv4.store16(UInt16(truncatingIfNeeded: total), ip, IPv4.offsetTotalLength)
            IPv4.store32(0, ip, 4)                                   // identification, flags, fragment offset
            ip.storeBytes(of: 64, toByteOffset: IPv4.offsetTTL, as: UInt8.self)
            ip.storeBytes(of: IPv4.protocolICMP, toByteOffset: IPv4.offsetProtocol, as: UInt8.self)
            IPv4.store32(source, ip, IPv4.offsetSource)
            IPv4.store32(IPv4.source(orig), ip, IPv4.offsetDestination)
            IPv4.setHeaderChecksum(ip, headerLength: IPv4.minHeaderLength)
            let icmp = ip + IPv4.minHeaderLength
            icmp.storeBytes(of: type, as: UInt8.self)
            icmp.storeBytes(of: code, toByteOffset: 1, as: UInt8.self)
            IPv4.store16(0, icmp, 2)
            IPv4.store32(m.pointee.icmpErrorData, icmp, 4)          // unused, or 16 unused bits + next-hop MTU
            IPv4.store16(Checksum.finish(Checksum.sum(icmp, ICMP.headerLength &+ quoted)), icmp, 2)

            m.pointee.l3Offset = UInt16(truncatingIfNeeded: newL3)
            m.pointee.dataOffset = UInt16(truncatingIfNeeded: newL3)
            m.pointee.length = UInt16(truncatingIfNeeded: total)
            // About a super-frame: the error is the first buffer's few bytes, no chain, no GSO.
            if _slowPath(m.pointee.isChained || m.pointee.gsoSize != 0) { graph.buffers.keepFirstBuffer(bi) }
            var flags = m.pointee.flags
            flags.insert(.ip4LocallyOriginated)
            flags.remove(.multicast)
            flags.remove(.l4ChecksumPending)
            m.pointee.flags = flags
            graph.count(type == ICMP.typeTimeExceeded ? errTimeExceeded
                        : code == ICMP.codeFragmentationNeeded ? errFragNeeded : errUnreachable)
            // To one of our own addresses: a translated source (see the type's doc).
            if _slowPath(toOut2In >= 0 && ip4.fib.lookup(table: Int(m.pointee.fibIndex), IPv4.destination(ip)) == AdjacencyTable.local) {
                graph.enqueue(bi, to: toOut2In)
                continue
            }
            graph.put(bi, &out)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "ip4-icmp-error: type \(r.a) code \(r.b) to \(IPv4.format(UInt32(truncatingIfNeeded: r.c)))"
    }
}
