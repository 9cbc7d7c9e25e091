import WeftEngine
import WeftIP4
import WeftPacket

/// nat44-out2in: the IPv4 input feature of the outside interface (the
/// uplink). Only packets to the outside address are considered; the rest
/// pass untranslated. To the outside address:
/// - a packet of a session has its destination rewritten back to the inside
///   host's address and port (echo reply: identifier);
/// - else, to a static mapping's port (TCP/UDP): a session is created and
///   the destination rewritten to the mapping (DNAT);
/// - else, to a port (echo reply: identifier) of the dynamic range: dropped
///   under `no-session` (a late or forged packet of an expired flow);
/// - else it passes untranslated to ip4-lookup: ping of the router, VXLAN
///   (UDP 4789) and any other local service keep working.
/// An ICMP error about a translated flow (its quoted packet from the
/// outside address and a session's port) has the outer destination and
/// the quoted source, port / identifier and checksums translated back.
/// Fragments to the outside address are dropped (`fragment`: no
/// reassembly, a fragment cannot be matched to a session); truncated
/// TCP/UDP/ICMP headers too (`truncated`).
///
/// Three passes per vector as in nat44-in2out (hash + prefetch bucket,
/// prefetch session, translate).
///
/// Uses: l3Offset. Sets: nothing (the packet goes on to ip4-lookup).
public final class NAT44Out2InNode: GraphNode {
    public enum Next: String, NodeNext {
        case lookup = "ip4-lookup"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case sessionsCreated = "sessions-created"
        case icmpErrorTranslated = "icmp-error-translated"
        case expiredOnLookup = "expired-on-lookup"
        case noSession = "no-session"
        case sessionLimit = "session-limit"
        case fragment = "fragment"
        case truncated = "truncated"
        public var help: String {
            switch self {
            case .sessionsCreated: return "sessions created for static mappings (informational)"
            case .icmpErrorTranslated: return "ICMP errors about a translated flow translated (informational)"
            case .expiredOnLookup: return "expired sessions found and deleted on lookup (informational)"
            case .noSession: return "to a dynamic-range port of the outside address without a session (dropped)"
            case .sessionLimit: return "new static-mapping flow refused: session table full, none expired (dropped)"
            case .fragment: return "fragment to the outside address (no reassembly; dropped)"
            case .truncated: return "TCP/UDP/ICMP header cut short, to the outside address (dropped)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "nat44-out2in", next: Next.self, errors: Error.self)

    let nat: NAT44Feature
    var toLookup = Int32(0)
    var errCreated = UInt32(0), errICMPError = UInt32(0), errExpired = UInt32(0), errNoSession = UInt32(0)
    var errSessionLimit = UInt32(0), errFragment = UInt32(0), errTruncated = UInt32(0)
    let flows: UnsafeMutablePointer<NAT44Flow>
    let hashes: UnsafeMutablePointer<UInt64>

    public init(nat: NAT44Feature) {
        self.nat = nat
        flows = .allocate(capacity: Graph.vectorSize)
        flows.initialize(repeating: NAT44Flow(), count: Graph.vectorSize)
        hashes = .allocate(capacity: Graph.vectorSize)
        super.init(registration: Self.registration)
    }

    deinit { flows.deallocate(); hashes.deallocate() }

    public override func didResolve(_ graph: Graph) {
        toLookup = nextIndex(Next.lookup)
        errCreated = errorIndex(Error.sessionsCreated)
        errICMPError = errorIndex(Error.icmpErrorTranslated)
        errExpired = errorIndex(Error.expiredOnLookup)
        errNoSession = errorIndex(Error.noSession)
        errSessionLimit = errorIndex(Error.sessionLimit)
        errFragment = errorIndex(Error.fragment)
        errTruncated = errorIndex(Error.truncated)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let t = nat.table
        let outside = t.outsideAddress
        let now = graph.nowSeconds
        let flows = self.flows, hashes = self.hashes
        let tracing = graph.trace.enabled
        var out = NextCursor(to: toLookup)
        defer { graph.close(&out) }
        if _slowPath(outside == 0) {
            for i in 0..<count { graph.put(vector[i], &out) }
            return
        }

        for i in 0..<count {
            let bi = vector[i]
            let ip = graph.data(bi) + Int(md[Int(bi)].l3Offset)
            NAT44Packet.parse(ip, inbound: true, &flows[i])
            flows[i].checksumPartial = md[Int(bi)].flags.contains(.l4ChecksumPending)
            let f = flows[i]
            let h = NAT44SessionTable.hashOut2In(f.proto, f.dport, f.src, f.sport)
            hashes[i] = h
            if f.kind == NAT44Flow.kindFlow && f.dst == outside { t.prefetchOut2In(h) }
        }
        for i in 0..<count where flows[i].kind == NAT44Flow.kindFlow && flows[i].dst == outside {
            t.prefetchSession(t.out2in, hashes[i])
        }

        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let ip = graph.data(bi) + Int(m.pointee.l3Offset)
            let f = flows[i]
            var verdict = NAT44In2OutNode.pass
            if f.dst == outside {
                if _fastPath(f.kind == NAT44Flow.kindFlow) {
                    var s = t.findOut2In(hashes[i], f.proto, f.dport, f.src, f.sport)
                    if _slowPath(s >= 0 && t.isExpired(s, now: now)) {
                        t.delete(s); t.expired &+= 1; graph.count(errExpired); s = -1
                    }
                    if _fastPath(s >= 0) {
                        translate(ip, f, t, s, now)
                        verdict = NAT44In2OutNode.translated
                    } else {
                        verdict = miss(graph, ip, f, t, now)
                    }
                } else {
                    verdict = other(graph, ip, f, t, outside)
                }
            }
            if tracing { trace(graph, bi, ip, f, verdict) }
            if _slowPath(verdict < NAT44In2OutNode.translated) { graph.drop(bi, error: verdict); continue }
            graph.put(bi, &out)
        }
    }

    /// Session hit: destination -> the inside host (and, for a hairpinned
    /// session seen from outside, which cannot happen, source -> rem).
    @inline(__always)
    func translate(_ ip: UnsafeMutableRawPointer, _ f: NAT44Flow, _ t: NAT44SessionTable, _ s: Int, _ now: UInt32) {
        let r = t.sessions + s
        let ip4Src = r.pointee.remAddr, ip4Sport = r.pointee.remPort
        let inPort = r.pointee.inPort
        NAT44Packet.rewrite(ip, f, src: ip4Src, sport: f.proto == IPv4.protocolICMP ? f.sport : ip4Sport,
                            dst: r.pointee.inAddr, dport: inPort, oldID: f.dport, newID: inPort)
        var cls = r.pointee.cls
        if f.proto == IPv4.protocolTCP { cls = NAT44Packet.tcpUpdate(r, flags: f.tcpFlags, fromInside: false) }
        t.touch(s, cls: cls, now: now)
    }

    @inline(never)
    func miss(_ graph: Graph, _ ip: UnsafeMutableRawPointer, _ f: NAT44Flow, _ t: NAT44SessionTable, _ now: UInt32) -> UInt32 {
        if f.proto == IPv4.protocolICMP {
            // Echo requests are the router's to answer; a stray echo reply in the dynamic range is dropped.
            if f.tcpFlags == ICMP.typeEchoReply && f.dport >= t.portLow && f.dport <= t.portHigh { return errNoSession }
            return NAT44In2OutNode.pass
        }
        let sm = t.staticMap[(NAT44SessionTable.protocolIndex(f.proto) << 16) | Int(f.dport)]
        if sm != 0 {
            let s = t.create(proto: f.proto, inAddr: UInt32(truncatingIfNeeded: sm >> 16), inPort: UInt16(truncatingIfNeeded: sm),
                             remAddr: f.src, remPort: f.sport, peerAddr: f.src, peerPort: f.sport, outPort: f.dport,
                             flags: NAT44SessionTable.flagStatic, cls: NAT44Packet.initialClass(f.proto), now: now)
            if s < 0 { return errSessionLimit }
            graph.count(errCreated)
            translate(ip, f, t, s, now)
            return NAT44In2OutNode.translated
        }
        if f.dport >= t.portLow && f.dport <= t.portHigh { return errNoSession }
        return NAT44In2OutNode.pass
    }

    /// To the outside address: ICMP errors, fragments, truncated headers, other protocols.
    @inline(never)
    func other(_ graph: Graph, _ ip: UnsafeMutableRawPointer, _ f: NAT44Flow, _ t: NAT44SessionTable, _ outside: UInt32) -> UInt32 {
        switch f.kind {
        case NAT44Flow.kindFragment: return errFragment
        case NAT44Flow.kindTruncated: return errTruncated
        case NAT44Flow.kindICMPError:
            // The quoted packet is one we sent out: from the outside address and a session's port.
            guard let inner = NAT44Packet.inner(ip, f), inner.src == outside else { return NAT44In2OutNode.pass }
            let isEcho = inner.proto == IPv4.protocolICMP
            let peerPort: UInt16 = isEcho ? 0 : inner.dport
            let h = NAT44SessionTable.hashOut2In(inner.proto, inner.sport, inner.dst, peerPort)
            let s = t.findOut2In(h, inner.proto, inner.sport, inner.dst, peerPort)
            guard s >= 0 else { return NAT44In2OutNode.pass }      // about the router's own traffic
            let r = t.sessions[s]
            let hairpin = r.flags & NAT44SessionTable.flagHairpin != 0
            NAT44Packet.rewriteError(ip, f, inner, outerSrc: hairpin && f.src == r.peerAddr ? r.remAddr : f.src,
                                     outerDst: r.inAddr, innerSrc: r.inAddr, innerSport: r.inPort,
                                     innerDst: r.remAddr, innerDport: isEcho ? r.inPort : r.remPort)
            graph.count(errICMPError)
            return NAT44In2OutNode.translated
        default:
            return NAT44In2OutNode.pass
        }
    }

    @inline(never)
    func trace(_ graph: Graph, _ bi: UInt32, _ ip: UnsafeMutableRawPointer, _ f: NAT44Flow, _ verdict: UInt32) {
        let ports = NAT44Trace.ports(ip, f)
        graph.traceIfSelected(bi, node: index, a: UInt64(f.src) << 32 | UInt64(f.dst),
                              b: UInt64(IPv4.source(ip)) << 32 | UInt64(IPv4.destination(ip)),
                              c: UInt64(f.sport) << 48 | UInt64(f.dport) << 32 | ports,
                              d: UInt64(f.proto) | NAT44Trace.verdict(verdict, errorBase: errorBase) << 8)
    }

    static let errorNames = Error.allCases.map(\.rawValue)

    public override func formatTrace(_ r: TraceRecord) -> String {
        NAT44Trace.format("nat44-out2in", r, errorNames: Self.errorNames)
    }
}
