import WeftEngine
import WeftPacket

/// ip4-rewrite: the last step of forwarding. Checks and decrements the TTL
/// (checksum updated incrementally, RFC 1624), checks the packet against the
/// adjacency's MTU, writes the adjacency's 14-byte Ethernet header in front
/// of the IP header (the buffer start moves: an 18-byte VLAN-tagged header
/// in becomes an untagged 14-byte one out) and hands the packet to the
/// transmit node of the adjacency's interface, as l2-output does.
///
/// - TTL 1 (or 0) -> ip4-icmp-error, time exceeded.
/// - Larger than the MTU with DF set -> ip4-icmp-error, fragmentation
///   needed with the next-hop MTU. With DF clear the packet is dropped under
///   `mtu-exceeded`: Weft does not fragment in this step (hosts doing path
///   MTU discovery always set DF; the drop is counted, never silent).
/// - Packets the router built (`.ip4LocallyOriginated`) keep their TTL and
///   are never the subject of an ICMP error.
/// - A packet that arrived in a link-layer broadcast/multicast frame is not
///   forwarded (RFC 1812 5.3.4).
/// - A GSO super-frame is checked by its segments (headers + gsoSize), not
///   its 64 KB: too large with DF set -> fragmentation needed, as above; with
///   DF clear its segment size is lowered to fit. For a port that cannot take
///   super-frames (InterfaceTable.takesLargeFrames) it goes to gso-segment
///   after the rewrite.
///
/// Uses: adjacency, l3Offset, dataOffset, length, flags, gsoSize, l4Offset,
/// nextBuffer. Sets: dataOffset, l4Offset, gsoSize (lowered to fit),
/// length, l2Offset, txInterface; the ICMP error to send (`scratch`).
public final class IP4RewriteNode: GraphNode {
    public enum Next: String, NodeNext {
        case icmpError = "ip4-icmp-error"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case ttlExpired = "ttl-expired"
        case fragmentationNeeded = "fragmentation-needed"
        case mtuExceeded = "mtu-exceeded"
        case l2Broadcast = "l2-broadcast"
        case interfaceDown = "interface-down"
        case noSegmenter = "no-segmenter"
        public var help: String {
            switch self {
            case .ttlExpired: return "TTL expired in transit (ICMP time exceeded sent)"
            case .fragmentationNeeded: return "larger than the MTU with DF set (ICMP fragmentation needed sent)"
            case .mtuExceeded: return "larger than the MTU with DF clear: dropped (no fragmentation)"
            case .l2Broadcast: return "received in a link-layer broadcast/multicast frame: not forwarded"
            case .interfaceDown: return "transmit interface is down or deleted"
            case .noSegmenter: return "super-frames for a port that cannot take them, in a graph without gso-segment: dropped"
            }
        }
    }

    public static let registration = NodeRegistration(name: "ip4-rewrite", next: Next.self, errors: Error.self)

    let ip4: IP4Feature
    var toICMPError = Int32(0)
    var errTTL = UInt32(0), errFrag = UInt32(0), errMTU = UInt32(0), errL2Broadcast = UInt32(0), errDown = UInt32(0)
    var errNoSegmenter = UInt32(0)
    /// Output node of the previous vector's last packet: the cursor starts there.
    var lastOutput = Int32(-1)
    /// gso-segment, where super-frames for ports that cannot take them go
    /// (found by name: it lives with the L2 nodes; -1 when the graph has none,
    /// and such frames are then dropped as no-segmenter).
    var segmenter = Int32(-1)

    public init(ip4: IP4Feature) {
        self.ip4 = ip4
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toICMPError = nextIndex(Next.icmpError)
        errTTL = errorIndex(Error.ttlExpired)
        errFrag = errorIndex(Error.fragmentationNeeded)
        errMTU = errorIndex(Error.mtuExceeded)
        errL2Broadcast = errorIndex(Error.l2Broadcast)
        errDown = errorIndex(Error.interfaceDown)
        errNoSegmenter = errorIndex(Error.noSegmenter)
        segmenter = graph.nodeIndex(named: "gso-segment") ?? -1
    }

    /// A GSO super-frame over the MTU: its segments (IP header + TCP or UDP
    /// header + gsoSize) are what go on the wire. They fit: true. They do not and DF
    /// is clear (or the router built it): the segment size is lowered to fit
    /// (true). Otherwise false: fragmentation needed, as for one large packet.
    @inline(never)
    func fitsSegments(_ m: UnsafeMutablePointer<BufferMetadata>, ip: UnsafeMutableRawPointer, l3: Int, mtu: UInt16, local: Bool) -> Bool {
        let l4 = Int(m.pointee.dataOffset) &+ Int(m.pointee.l4Offset)
        guard l4 > l3, l4 &+ 13 <= Int(m.pointee.dataOffset) &+ Int(m.pointee.length) else { return false }
        // UDP GSO (VXLAN datagrams): a segment is one datagram, whose size cannot change.
        let udp = m.pointee.gsoType == GSOType.udpL4.rawValue
        let headers = l4 &- l3 &+ (udp ? UDP.headerLength : Int((ip + (l4 &- l3)).load(fromByteOffset: 12, as: UInt8.self) >> 4) &* 4)
        if headers &+ Int(m.pointee.gsoSize) <= Int(mtu) { return true }
        if udp { return false }
        let dontFragment = IPv4.u16(ip, IPv4.offsetFragment) & IPv4.flagDontFragment != 0
        guard !dontFragment || local, Int(mtu) > headers else { return false }
        m.pointee.gsoSize = UInt16(Int(mtu) &- headers)
        return true
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let arena = graph.arena
        let adjInterface = ip4.adjacencies.interface
        let adjMTU = ip4.adjacencies.mtu
        let rewrite = ip4.adjacencies.rewrite
        let adjUsed = ip4.adjacencies.used
        let up = graph.interfaces.up
        let outputNode = graph.interfaces.outputNode
        let takesLarge = graph.interfaces.takesLargeFrames
        let tracing = graph.trace.enabled
        let localBit = BufferFlags.ip4LocallyOriginated.rawValue, multicastBit = BufferFlags.multicast.rawValue
        let special = localBit | multicastBit
        var out = NextCursor(to: lastOutput)
        defer { graph.close(&out); lastOutput = out.target }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let adj = Int(m.pointee.adjacency)
            let base = arena + (Int(bi) &<< BufferPool.bufferShift)
            let l3 = Int(m.pointee.l3Offset)
            let ip = base + l3
            let flags = m.pointee.flags.rawValue
            let local = flags & localBit != 0
            if _slowPath(flags & special == multicastBit) { graph.drop(bi, error: errL2Broadcast); continue }
            let ttl = ip.load(fromByteOffset: IPv4.offsetTTL, as: UInt8.self)
            if _slowPath(ttl <= 1 && !local) {
                graph.count(errTTL)
                m.pointee.setICMPError(type: ICMP.typeTimeExceeded, code: ICMP.codeTTLExceeded)
                graph.enqueue(bi, to: toICMPError)
                continue
            }
            let total = IPv4.u16(ip, IPv4.offsetTotalLength)
            let mtu = adjMTU[adj]
            if _slowPath(total > mtu) && !(md[Int(bi)].gsoSize != 0 && fitsSegments(m, ip: ip, l3: l3, mtu: mtu, local: local)) {
                if !local && IPv4.u16(ip, IPv4.offsetFragment) & IPv4.flagDontFragment != 0 {
                    graph.count(errFrag)
                    m.pointee.setICMPError(type: ICMP.typeDestinationUnreachable, code: ICMP.codeFragmentationNeeded, data: UInt16(clamping: mtu))
                    graph.enqueue(bi, to: toICMPError)
                } else {
                    graph.drop(bi, error: errMTU)
                }
                continue
            }
            if adjUsed[adj] == 0 { adjUsed[adj] = 1 }   // for neighbour refresh
            let tx = adjInterface[adj]
            let target = outputNode[Int(tx)]
            if _slowPath(!up[Int(tx)] || target < 0) { graph.drop(bi, error: errDown); continue }
            if !local { IPv4.decrementTTL(ip) }
            // A super-frame for a port that takes one buffer per frame: cut after the rewrite.
            let toSegment = _slowPath(m.pointee.gsoSize != 0 || m.pointee.isChained) && takesLarge[Int(tx)] == 0
            let start = l3 &- Ethernet.headerLength
            AdjacencyTable.writeRewrite(rewrite, adj, to: base + start)
            let end = Int(m.pointee.dataOffset) &+ Int(m.pointee.length)
            // csum_start counts from the frame's start, which moves here (a tag dropped).
            if _slowPath(m.pointee.l4Offset != 0) {
                m.pointee.l4Offset = UInt8(truncatingIfNeeded: Int(m.pointee.l4Offset) &+ Int(m.pointee.dataOffset) &- start)
            }
            m.pointee.dataOffset = UInt16(truncatingIfNeeded: start)
            m.pointee.l2Offset = UInt16(truncatingIfNeeded: start)
            m.pointee.length = UInt16(truncatingIfNeeded: end &- start)
            m.pointee.txInterface = tx
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(adj), b: UInt64(tx), c: UInt64(ttl) | (local ? 0x100 : 0), d: UInt64(total)) }
            if _slowPath(toSegment) {
                if segmenter < 0 { graph.drop(bi, error: errNoSegmenter); continue }
                graph.enqueue(bi, to: segmenter)
                continue
            }
            if _slowPath(target != out.target) {
                graph.close(&out)
                out = NextCursor(to: target)
            }
            graph.put(bi, &out)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let ttl = r.c & 0xFF
        let ttlText = r.c & 0x100 != 0 ? "ttl \(ttl) (locally originated)" : "ttl \(ttl) -> \(ttl > 0 ? ttl - 1 : 0)"
        return "ip4-rewrite: adjacency \(r.a) -> sw_if_index \(r.b), \(ttlText), \(r.d) bytes"
    }
}
