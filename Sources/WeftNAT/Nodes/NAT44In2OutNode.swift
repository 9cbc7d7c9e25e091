import WeftEngine
import WeftIP4
import WeftPacket

/// nat44-in2out: the IPv4 input feature of inside interfaces (the BVIs of
/// masquerading networks). A packet of a known session has its source
/// rewritten to the outside address and the session's port (echo: the
/// identifier); a new flow to a destination that is not excluded and whose
/// route leaves through the outside interface gets a session and a dynamic
/// port first; a new flow to the outside address and a static mapping's
/// port is hairpinned (destination -> the mapping, source -> the outside
/// address, so the reply comes back through here); the mapped host's reply
/// to a hairpinned flow is translated back. An ICMP error an inside host
/// sends about a translated flow has its outer and quoted addresses, ports
/// and checksums translated. Everything else (pod-to-pod, to excluded or
/// non-uplink destinations, to the router) passes untranslated, and so does
/// a packet with TTL <= 1, so that ip4-rewrite's time exceeded reaches the
/// inside host (traceroute) instead of the outside address. All checksums
/// are updated incrementally (RFC 1624).
///
/// Not translatable when they would need it, dropped and counted:
/// fragments (no reassembly), truncated headers, protocols other than
/// TCP/UDP/ICMP and ICMP other than echo/errors. Refused new flows are
/// dropped under `session-limit` (table full, nothing expired) or
/// `out-of-ports` (dynamic range exhausted for the protocol).
///
/// The vector is processed in three passes: parse and hash every packet
/// and prefetch its index bucket; prefetch the session record the bucket
/// names; translate.
///
/// Uses: l3Offset, fibIndex (the route check). Sets: nothing (the packet
/// goes on to ip4-lookup).
public final class NAT44In2OutNode: GraphNode {
    public enum Next: String, NodeNext {
        case lookup = "ip4-lookup"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case sessionsCreated = "sessions-created"
        case hairpinned = "hairpinned"
        case icmpErrorTranslated = "icmp-error-translated"
        case expiredOnLookup = "expired-on-lookup"
        case outOfPorts = "out-of-ports"
        case sessionLimit = "session-limit"
        case fragment = "fragment"
        case truncated = "truncated"
        case unsupportedProtocol = "unsupported-protocol"
        public var help: String {
            switch self {
            case .sessionsCreated: return "sessions created (informational)"
            case .hairpinned: return "packets hairpinned to a static mapping or back (informational)"
            case .icmpErrorTranslated: return "ICMP errors about a translated flow translated (informational)"
            case .expiredOnLookup: return "expired sessions found and deleted on lookup (informational)"
            case .outOfPorts: return "new flow refused: no free outside port for the protocol (dropped)"
            case .sessionLimit: return "new flow refused: session table full, none expired (dropped)"
            case .fragment: return "fragment that would need translation (no reassembly; dropped)"
            case .truncated: return "TCP/UDP/ICMP header cut short in a packet that would need translation (dropped)"
            case .unsupportedProtocol: return "protocol or ICMP type not translated, to a translated destination (dropped)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "nat44-in2out", next: Next.self, errors: Error.self)

    /// Per-packet verdicts of the helpers: pass on untouched / translated;
    /// anything else is an error counter index (drop).
    static let pass = UInt32.max
    static let translated = UInt32.max - 1

    let nat: NAT44Feature
    var toLookup = Int32(0)
    var errCreated = UInt32(0), errHairpinned = UInt32(0), errICMPError = UInt32(0), errExpired = UInt32(0)
    var errOutOfPorts = UInt32(0), errSessionLimit = UInt32(0), errFragment = UInt32(0), errTruncated = UInt32(0)
    var errUnsupported = UInt32(0)
    // Per-vector scratch.
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
        errHairpinned = errorIndex(Error.hairpinned)
        errICMPError = errorIndex(Error.icmpErrorTranslated)
        errExpired = errorIndex(Error.expiredOnLookup)
        errOutOfPorts = errorIndex(Error.outOfPorts)
        errSessionLimit = errorIndex(Error.sessionLimit)
        errFragment = errorIndex(Error.fragment)
        errTruncated = errorIndex(Error.truncated)
        errUnsupported = errorIndex(Error.unsupportedProtocol)
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
            // No outside address: NAT is off, everything passes.
            for i in 0..<count { graph.put(vector[i], &out) }
            return
        }

        // 1: parse, hash, prefetch the index bucket.
        for i in 0..<count {
            let bi = vector[i]
            let ip = graph.data(bi) + Int(md[Int(bi)].l3Offset)
            NAT44Packet.parse(ip, inbound: false, &flows[i])
            flows[i].checksumPartial = md[Int(bi)].flags.contains(.l4ChecksumPending)
            let f = flows[i]
            let h = NAT44SessionTable.hashIn2Out(f.proto, f.src, f.sport, f.dst, f.dport)
            hashes[i] = h
            if f.kind == NAT44Flow.kindFlow { t.prefetchIn2Out(h) }
        }
        // 2: prefetch the session the bucket's first slot names.
        for i in 0..<count where flows[i].kind == NAT44Flow.kindFlow { t.prefetchSession(t.in2out, hashes[i]) }

        // 3: translate.
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let ip = graph.data(bi) + Int(m.pointee.l3Offset)
            let f = flows[i]
            var verdict = Self.pass
            if _fastPath(f.kind == NAT44Flow.kindFlow) {
                var s = t.findIn2Out(hashes[i], f.proto, f.src, f.sport, f.dst, f.dport)
                if _slowPath(s >= 0 && t.isExpired(s, now: now)) {
                    t.delete(s); t.expired &+= 1; graph.count(errExpired); s = -1
                }
                if _fastPath(s >= 0) {
                    translate(ip, f, t, s, outside, now)
                    verdict = Self.translated
                } else {
                    verdict = miss(graph, m, ip, f, t, outside, now)
                }
            } else {
                verdict = other(graph, m, ip, f, t, outside)
            }
            if tracing { trace(graph, bi, ip, f, verdict) }
            if _slowPath(verdict < Self.translated) { graph.drop(bi, error: verdict); continue }
            graph.put(bi, &out)
        }
    }

    /// Session hit: source -> outside address:port (and, hairpinned,
    /// destination -> the mapped host).
    @inline(__always)
    func translate(_ ip: UnsafeMutableRawPointer, _ f: NAT44Flow, _ t: NAT44SessionTable, _ s: Int, _ outside: UInt32, _ now: UInt32) {
        let r = t.sessions + s
        var dst = f.dst, dport = f.dport
        if _slowPath(r.pointee.flags & NAT44SessionTable.flagHairpin != 0) { dst = r.pointee.peerAddr; dport = r.pointee.peerPort }
        let op = r.pointee.outPort
        NAT44Packet.rewrite(ip, f, src: outside, sport: op, dst: dst, dport: dport, oldID: f.sport, newID: op)
        var cls = r.pointee.cls
        if f.proto == IPv4.protocolTCP { cls = NAT44Packet.tcpUpdate(r, flags: f.tcpFlags, fromInside: true) }
        t.touch(s, cls: cls, now: now)
    }

    /// No session for a TCP/UDP/echo packet.
    @inline(never)
    func miss(_ graph: Graph, _ m: UnsafeMutablePointer<BufferMetadata>, _ ip: UnsafeMutableRawPointer, _ f: NAT44Flow,
              _ t: NAT44SessionTable, _ outside: UInt32, _ now: UInt32) -> UInt32 {
        if f.dst == outside {
            guard f.proto != IPv4.protocolICMP else { return Self.pass }      // ping of the uplink address
            // The mapped host's reply to a hairpinned flow: back to the client, from the mapping's address.
            let h = NAT44SessionTable.hashOut2In(f.proto, f.dport, f.src, f.sport)
            let s = t.findOut2In(h, f.proto, f.dport, f.src, f.sport)
            if s >= 0 && t.sessions[s].flags & NAT44SessionTable.flagHairpin != 0 && !t.isExpired(s, now: now) {
                let r = t.sessions + s
                NAT44Packet.rewrite(ip, f, src: r.pointee.remAddr, sport: r.pointee.remPort, dst: r.pointee.inAddr,
                                    dport: r.pointee.inPort, oldID: 0, newID: 0)
                var cls = r.pointee.cls
                if f.proto == IPv4.protocolTCP { cls = NAT44Packet.tcpUpdate(r, flags: f.tcpFlags, fromInside: false) }
                t.touch(s, cls: cls, now: now)
                graph.count(errHairpinned)
                return Self.translated
            }
            // A new flow to a static mapping: hairpin.
            let sm = t.staticMap[(NAT44SessionTable.protocolIndex(f.proto) << 16) | Int(f.dport)]
            guard sm != 0 else { return Self.pass }                       // a service of the router itself
            let s2 = t.create(proto: f.proto, inAddr: f.src, inPort: f.sport, remAddr: f.dst, remPort: f.dport,
                              peerAddr: UInt32(truncatingIfNeeded: sm >> 16), peerPort: UInt16(truncatingIfNeeded: sm),
                              outPort: 0, flags: NAT44SessionTable.flagHairpin,
                              cls: NAT44Packet.initialClass(f.proto), now: now)
            if s2 < 0 { return s2 == NAT44SessionTable.refusedLimit ? errSessionLimit : errOutOfPorts }
            graph.count(errCreated)
            graph.count(errHairpinned)
            translate(ip, f, t, s2, outside, now)
            return Self.translated
        }
        if !nat.translates(m.pointee.fibIndex, f.dst) { return Self.pass }
        // An echo reply (or request we did not see) without a session: nothing to map it to.
        if f.proto == IPv4.protocolICMP && f.tcpFlags != ICMP.typeEchoRequest { return Self.pass }
        let s = t.create(proto: f.proto, inAddr: f.src, inPort: f.sport, remAddr: f.dst, remPort: f.dport,
                         peerAddr: f.dst, peerPort: f.dport, outPort: 0, flags: 0,
                         cls: NAT44Packet.initialClass(f.proto), now: now)
        if s < 0 { return s == NAT44SessionTable.refusedLimit ? errSessionLimit : errOutOfPorts }
        graph.count(errCreated)
        translate(ip, f, t, s, outside, now)
        return Self.translated
    }

    /// ICMP errors, fragments, truncated headers, other protocols.
    @inline(never)
    func other(_ graph: Graph, _ m: UnsafeMutablePointer<BufferMetadata>, _ ip: UnsafeMutableRawPointer, _ f: NAT44Flow,
               _ t: NAT44SessionTable, _ outside: UInt32) -> UInt32 {
        if f.kind == NAT44Flow.kindTTLExpiring { return Self.pass }
        if f.kind == NAT44Flow.kindICMPError, let inner = NAT44Packet.inner(ip, f) {
            // The quoted packet is one the inside host received: from the remote end to itself.
            let isEcho = inner.proto == IPv4.protocolICMP
            let remPort: UInt16 = isEcho ? 0 : inner.sport
            let h = NAT44SessionTable.hashIn2Out(inner.proto, inner.dst, inner.dport, inner.src, remPort)
            let s = t.findIn2Out(h, inner.proto, inner.dst, inner.dport, inner.src, remPort)
            if s >= 0 {
                let r = t.sessions[s]
                NAT44Packet.rewriteError(ip, f, inner, outerSrc: outside, outerDst: f.dst == r.remAddr ? r.peerAddr : f.dst,
                                         innerSrc: r.peerAddr, innerSport: isEcho ? r.outPort : r.peerPort,
                                         innerDst: outside, innerDport: r.outPort)
                graph.count(errICMPError)
                return Self.translated
            }
            return Self.pass
        }
        if !nat.translates(m.pointee.fibIndex, f.dst) { return Self.pass }
        switch f.kind {
        case NAT44Flow.kindFragment: return errFragment
        case NAT44Flow.kindTruncated, NAT44Flow.kindICMPError: return errTruncated
        default: return errUnsupported
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
        NAT44Trace.format("nat44-in2out", r, errorNames: Self.errorNames)
    }
}

/// Trace words shared by the two NAT nodes: a = original source << 32 |
/// destination, b = the same after, c = original ports << 32 | ports after,
/// d = protocol | verdict << 8 (0 passed, 1 translated, 2 + error).
enum NAT44Trace {
    static func ports(_ ip: UnsafeMutableRawPointer, _ f: NAT44Flow) -> UInt64 {
        guard f.kind == NAT44Flow.kindFlow else { return 0 }
        let l4 = ip + Int(f.hl)
        if f.proto == IPv4.protocolICMP { let id = UInt64(IPv4.u16(l4, 4)); return id << 16 | id }
        return UInt64(IPv4.u16(l4, 0)) << 16 | UInt64(IPv4.u16(l4, 2))
    }

    static func verdict(_ v: UInt32, errorBase: UInt32) -> UInt64 {
        v == NAT44In2OutNode.pass ? 0 : v == NAT44In2OutNode.translated ? 1 : 2 + UInt64(v &- errorBase)
    }

    static func format(_ node: String, _ r: TraceRecord, errorNames: [String]) -> String {
        func ep(_ a: UInt64, _ p: UInt64) -> String { "\(IPv4.format(UInt32(truncatingIfNeeded: a))):\(p & 0xFFFF)" }
        let v = r.d >> 8
        let verdict = v == 0 ? "passed" : v == 1 ? "translated"
            : "dropped: \(Int(v) - 2 < errorNames.count ? errorNames[Int(v) - 2] : "?")"
        return "\(node): proto \(r.d & 0xFF) \(ep(r.a >> 32, r.c >> 48)) -> \(ep(r.a, r.c >> 32)) => "
            + "\(ep(r.b >> 32, r.c >> 16)) -> \(ep(r.b, r.c)) \(verdict)"
    }
}
