import WeftEngine

/// l2-flood: sends a frame to every member of its bridge domain except the
/// one it came in on and, split horizon, except the members of the receiving
/// interface's non-zero split-horizon group: a flood from a local port
/// reaches every VXLAN tunnel (head-end replication), a flood from a tunnel
/// reaches local ports only. Each extra copy is a clone; the last member
/// gets the original buffer, so a two-port domain copies nothing.
///
/// Uses: bridgeDomain, rxInterface. Sets: txInterface (of each copy).
public final class L2FloodNode: GraphNode {
    public enum Next: String, NodeNext {
        case output = "l2-output"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case noMembers = "no-members"
        case noBuffers = "no-buffers"
        public var help: String {
            switch self {
            case .noMembers: return "no other interface in the bridge domain (outside the receiving split-horizon group)"
            case .noBuffers: return "flood copies not made: buffer pool empty"
            }
        }
    }

    public static let registration = NodeRegistration(name: "l2-flood", next: Next.self, errors: Error.self)

    let domains: BridgeDomainTable
    var toOutput = Int32(0)
    var errNoMembers = UInt32(0), errNoBuffers = UInt32(0)

    public init(domains: BridgeDomainTable) {
        self.domains = domains
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toOutput = nextIndex(Next.output)
        errNoMembers = errorIndex(Error.noMembers)
        errNoBuffers = errorIndex(Error.noBuffers)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let shg = graph.interfaces.splitHorizonGroup
        let tracing = graph.trace.enabled
        var out = NextCursor(to: toOutput)
        defer { graph.close(&out) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let bd = Int(m.pointee.bridgeDomain)
            let rx = m.pointee.rxInterface
            // Split horizon: 0 (no group) matches no member's group below.
            let group = shg[Int(rx)]
            let n = Int(domains.memberCount[bd])
            let members = domains.members(bd)
            // The last eligible member keeps the original.
            var last = -1
            var k = n - 1
            while k >= 0 { if Self.eligible(members[k], rx, group, shg) { last = k; break }; k -= 1 }
            if last < 0 { graph.drop(bi, error: errNoMembers); continue }
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(bd), b: UInt64(n - 1)) }
            for k in 0..<last where Self.eligible(members[k], rx, group, shg) {
                let c = graph.clone(bi)
                if c == BufferPool.invalid { graph.count(errNoBuffers); continue }
                md[Int(c)].txInterface = members[k]
                md[Int(c)].flags.remove(.traced)
                graph.put(c, &out)
            }
            m.pointee.txInterface = members[last]
            graph.put(bi, &out)
        }
    }

    /// A copy goes to `member` unless it is the receiving interface or in its
    /// (non-zero) split-horizon group.
    @inline(__always)
    static func eligible(_ member: UInt32, _ rx: UInt32, _ group: UInt8, _ shg: UnsafeMutablePointer<UInt8>) -> Bool {
        member != rx && (group == 0 || shg[Int(member)] != group)
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "l2-flood: bridge-domain \(r.a), \(r.b) other member(s)"
    }
}
