import WeftEngine
import WeftPacket

/// ip4-lookup: longest-prefix match of each packet's destination in its FIB
/// table (`fibIndex`), one bulk lookup per run of packets that share a table
/// (normally the whole vector), and dispatch by the adjacency's kind:
/// rewrite -> ip4-rewrite, local -> ip4-local, glean/arp -> ip4-arp,
/// unreachable (no route) -> ip4-icmp-error (destination unreachable, net),
/// drop/broadcast -> counted drops. A packet the router built itself that
/// has no route is dropped (no ICMP error about our own packets).
///
/// Uses: l3Offset, fibIndex, flags(.ip4LocallyOriginated). Sets: adjacency,
/// the ICMP error to send (metadata `scratch`, see IP4Metadata.swift).
public final class IP4LookupNode: GraphNode {
    public enum Next: String, NodeNext {
        case rewrite = "ip4-rewrite"
        case local = "ip4-local"
        case arp = "ip4-arp"
        case icmpError = "ip4-icmp-error"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case noRoute = "no-route"
        case noRouteLocal = "no-route-local"
        case blackhole = "blackhole"
        case broadcast = "broadcast"
        public var help: String {
            switch self {
            case .noRoute: return "no route to the destination (ICMP net unreachable sent)"
            case .noRouteLocal: return "no route for a packet the router built (dropped)"
            case .blackhole: return "route is a drop (blackhole)"
            case .broadcast: return "directed broadcast of a connected subnet (not forwarded)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "ip4-lookup", next: Next.self, errors: Error.self)

    let ip4: IP4Feature
    var toRewrite = Int32(0), toLocal = Int32(0), toARP = Int32(0), toICMPError = Int32(0)
    var errNoRoute = UInt32(0), errNoRouteLocal = UInt32(0), errBlackhole = UInt32(0), errBroadcast = UInt32(0)
    // Per-vector scratch: destinations gathered for the bulk lookup, and its results.
    let addresses: UnsafeMutablePointer<UInt32>
    let results: UnsafeMutablePointer<UInt32>

    public init(ip4: IP4Feature) {
        self.ip4 = ip4
        addresses = .allocate(capacity: Graph.vectorSize)
        results = .allocate(capacity: Graph.vectorSize)
        super.init(registration: Self.registration)
    }

    deinit { addresses.deallocate(); results.deallocate() }

    public override func didResolve(_ graph: Graph) {
        toRewrite = nextIndex(Next.rewrite)
        toLocal = nextIndex(Next.local)
        toARP = nextIndex(Next.arp)
        toICMPError = nextIndex(Next.icmpError)
        errNoRoute = errorIndex(Error.noRoute)
        errNoRouteLocal = errorIndex(Error.noRouteLocal)
        errBlackhole = errorIndex(Error.blackhole)
        errBroadcast = errorIndex(Error.broadcast)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let arena = graph.arena
        let views = ip4.fib.views
        let kinds = ip4.adjacencies.kind
        let addresses = self.addresses, results = self.results
        let tracing = graph.trace.enabled

        // Gather the destinations, then one bulk lookup per run of one table.
        var i = 0
        while i < count {
            let bi = Int(vector[i])
            let offset = (bi &<< BufferPool.bufferShift) &+ Int(md[bi].l3Offset)
            addresses[i] = IPv4.destination(arena + offset)
            i &+= 1
        }
        var start = 0
        while start < count {
            let fib = md[Int(vector[start])].fibIndex
            var end = start &+ 1
            while end < count && md[Int(vector[end])].fibIndex == fib { end &+= 1 }
            views[Int(fib)].lookup(addresses + start, into: results + start, count: end &- start)
            start = end
        }

        var out = NextCursor(to: toRewrite)
        var localOut = NextCursor(to: toLocal)      // for the router (VXLAN decap: the whole vector)
        defer { graph.close(&out); graph.close(&localOut) }
        let rewrite = AdjacencyKind.rewrite.rawValue, local = AdjacencyKind.local.rawValue
        for j in 0..<count {
            let bi = vector[j]
            let m = md + Int(bi)
            let r = results[j]
            let adj = r == FIBTable.miss ? AdjacencyTable.unreachable : r
            m.pointee.adjacency = adj
            let kind = kinds[Int(adj)]
            if tracing {
                graph.traceIfSelected(bi, node: index, a: UInt64(addresses[j]), b: UInt64(adj), c: UInt64(m.pointee.fibIndex), d: UInt64(kind))
            }
            if _fastPath(kind == rewrite) { graph.put(bi, &out); continue }
            if kind == local { graph.put(bi, &localOut); continue }
            dispatchOther(graph, bi, m, kind)
        }
    }

    @inline(__always)
    func dispatchOther(_ graph: Graph, _ bi: UInt32, _ m: UnsafeMutablePointer<BufferMetadata>, _ kind: UInt8) {
        switch AdjacencyKind(rawValue: kind) {
        case .glean, .arp: graph.enqueue(bi, to: toARP)
        case .unreachable:
            if m.pointee.flags.contains(.ip4LocallyOriginated) { graph.drop(bi, error: errNoRouteLocal); return }
            graph.count(errNoRoute)
            m.pointee.setICMPError(type: ICMP.typeDestinationUnreachable, code: ICMP.codeNetUnreachable)
            graph.enqueue(bi, to: toICMPError)
        case .broadcast: graph.drop(bi, error: errBroadcast)
        default: graph.drop(bi, error: errBlackhole)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let kind = AdjacencyKind(rawValue: UInt8(truncatingIfNeeded: r.d))?.description ?? "?"
        return "ip4-lookup: fib \(r.c) \(IPv4.format(UInt32(truncatingIfNeeded: r.a))) -> adjacency \(r.b) (\(kind))"
    }
}
