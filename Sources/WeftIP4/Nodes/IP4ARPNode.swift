import WeftEngine
import WeftPacket

/// ip4-arp: packets whose next hop has no MAC yet: a glean adjacency (the
/// next hop is the packet's destination on a connected subnet) or an `arp`
/// adjacency (a route's next hop). If the neighbour got resolved meanwhile
/// the packet goes on to ip4-rewrite through the neighbour's adjacency.
/// Otherwise a broadcast ARP request for the next hop is sent from the
/// adjacency's interface (rate limited: see `IP4Feature.resolve`), and the
/// packet is dropped under `unresolved`: there is no queueing of packets
/// waiting for ARP in this step (the sender retransmits, as with Linux once
/// its small per-neighbour queue overflows).
///
/// Uses: adjacency, l3Offset. Sets: adjacency (when resolved meanwhile).
/// The ARP request is a new buffer: dataOffset, length, txInterface, flags.
/// Housekeeping also sends unicast requests through this node
/// (`IP4Feature.housekeeping`) to refresh a reachable neighbour before it
/// ages out; those count as `probes-sent`.
public final class IP4ARPNode: GraphNode {
    public enum Next: String, NodeNext {
        case rewrite = "ip4-rewrite"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case unresolved = "unresolved"
        case requestsSent = "requests-sent"
        case probesSent = "probes-sent"
        case throttled = "throttled"
        case noSourceAddress = "no-source-address"
        case tableFull = "neighbour-table-full"
        case noBuffers = "no-buffers"
        case interfaceDown = "interface-down"
        public var help: String {
            switch self {
            case .unresolved: return "dropped: next hop not resolved yet (no queueing)"
            case .requestsSent: return "ARP requests sent"
            case .probesSent: return "unicast ARP requests refreshing a reachable neighbour before it ages out"
            case .throttled: return "ARP request not sent: one went out recently, or the neighbour failed"
            case .noSourceAddress: return "ARP request not sent: the interface has no IPv4 address"
            case .tableFull: return "ARP request not sent: neighbour or adjacency table full"
            case .noBuffers: return "ARP request not sent: buffer pool empty"
            case .interfaceDown: return "ARP request not sent: interface down"
            }
        }
    }

    public static let registration = NodeRegistration(name: "ip4-arp", next: Next.self, errors: Error.self)

    let ip4: IP4Feature
    var toRewrite = Int32(0)
    var errUnresolved = UInt32(0), errSent = UInt32(0), errThrottled = UInt32(0), errNoSource = UInt32(0)
    var errTableFull = UInt32(0), errNoBuffers = UInt32(0), errDown = UInt32(0), errProbes = UInt32(0)

    public init(ip4: IP4Feature) {
        self.ip4 = ip4
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toRewrite = nextIndex(Next.rewrite)
        errUnresolved = errorIndex(Error.unresolved)
        errSent = errorIndex(Error.requestsSent)
        errProbes = errorIndex(Error.probesSent)
        errThrottled = errorIndex(Error.throttled)
        errNoSource = errorIndex(Error.noSourceAddress)
        errTableFull = errorIndex(Error.tableFull)
        errNoBuffers = errorIndex(Error.noBuffers)
        errDown = errorIndex(Error.interfaceDown)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let adjKind = ip4.adjacencies.kind
        let adjInterface = ip4.adjacencies.interface
        let adjNextHop = ip4.adjacencies.nextHop
        let enabled = ip4.interfaces.enabled
        let now = graph.nowSeconds
        let tracing = graph.trace.enabled
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let adj = Int(m.pointee.adjacency)
            let interface = adjInterface[adj]
            let nextHop = adjKind[adj] == AdjacencyKind.glean.rawValue
                ? IPv4.destination(graph.data(bi) + Int(m.pointee.l3Offset)) : adjNextHop[adj]
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(nextHop), b: UInt64(interface)) }
            if _slowPath(!enabled[Int(interface)]) {
                graph.count(errNoSource)
                graph.drop(bi, error: errUnresolved)
                continue
            }
            switch ip4.resolve(interface: interface, address: nextHop, now: now) {
            case .resolved(let a):
                m.pointee.adjacency = a
                graph.enqueue(bi, to: toRewrite)
                continue
            case .request: sendRequest(graph, interface: interface, target: nextHop)
            case .throttled: graph.count(errThrottled)
            case .tableFull: graph.count(errTableFull)
            }
            graph.drop(bi, error: errUnresolved)
        }
    }

    /// Builds and sends "who-has `target` tell <our address>": broadcast, or
    /// unicast to `destination` (a refresh probe of a known neighbour).
    @inline(never)
    func sendRequest(_ graph: Graph, interface: UInt32, target: UInt32, to destination: UInt64 = 0xFFFF_FFFF_FFFF) {
        let i = Int(interface)
        let out = graph.interfaces.outputNode[i]
        if !graph.interfaces.up[i] || out < 0 { graph.count(errDown); return }
        let bi = graph.buffers.alloc()
        if bi == BufferPool.invalid { graph.count(errNoBuffers); return }
        let mac = ip4.interfaces.mac[i]
        let p = graph.data(bi) + BufferPool.headroom
        Ethernet.storeMAC(destination, at: p)
        Ethernet.storeMAC(mac, at: p + 6)
        IPv4.store16(Ethernet.typeARP, p, 12)
        ARP.write(p + Ethernet.headerLength, operation: ARP.opRequest, senderMAC: mac, senderIP: ip4.interfaces.address[i],
                  targetMAC: 0, targetIP: target)
        var m = BufferMetadata()
        m.dataOffset = UInt16(BufferPool.headroom)
        m.length = UInt16(Ethernet.headerLength + ARP.length)
        m.l2Offset = m.dataOffset
        m.l3Offset = m.dataOffset &+ UInt16(Ethernet.headerLength)
        m.txInterface = interface
        m.etherType = Ethernet.typeARP
        graph.metadata[Int(bi)] = m
        graph.count(destination == 0xFFFF_FFFF_FFFF ? errSent : errProbes)
        graph.enqueue(bi, to: out)
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "ip4-arp: next hop \(IPv4.format(UInt32(truncatingIfNeeded: r.a))) on sw_if_index \(r.b)"
    }
}
