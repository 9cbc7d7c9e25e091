import WeftEngine
import WeftPacket

/// vxlan4-input: decapsulates VXLAN received for one of the router's
/// addresses (ip4-local hands it UDP to a port a tunnel registered; the outer
/// IPv4 header was validated by ip4-input: version, IHL, checksum, lengths).
/// The packet must hold UDP + VXLAN + a 14-byte inner Ethernet header within
/// the UDP length, and the UDP length must fit the packet (`truncated`); a
/// non-zero UDP checksum must be correct (`bad-udp-checksum`, RFC 1122
/// 4.1.3.4; Linux checks it before its vxlan driver sees the datagram),
/// unless the frame is still partial (`.l4ChecksumPending`: the sending
/// kernel has not filled a checksum in yet, so there is nothing to check); the
/// I flag must be set (`bad-flags`; the reserved bits are ignored, RFC 7348);
/// (VNI, port) must belong to some tunnel (`unknown-vni`) and (outer source,
/// VNI, port) to one tunnel (`unknown-vtep`). The inner frame then enters
/// the tunnel's bridge domain as received on the tunnel, parsed as
/// ethernet-input would have (one 802.1Q/ad tag).
///
/// A partial checksum survives decapsulation: the kernel that built the frame
/// (a kernel `vxlan` device over a veth with checksum offload) leaves the
/// *inner* TCP/UDP checksum partial and says so for the whole frame; the
/// flag stays on the inner frame so that whichever node sends it on
/// completes it (af-packet-output, tap-output, vxlan4-encap), as for a
/// frame from a local pod.
///
/// Uses: l3Offset, dataOffset, length, flags(.traced, .l4ChecksumPending). Sets: dataOffset,
/// l2Offset, l3Offset (inner), length (the inner frame, from the UDP
/// length), rxInterface (the tunnel), etherType, vlan, flags (.multicast for
/// a group destination MAC, .vlanTagged, .traced and .l4ChecksumPending if
/// they were set).
/// bridgeDomain is left for l2-input. Counts rx packets/bytes (inner frame)
/// on the tunnel interface.
public final class VXLAN4InputNode: GraphNode {
    public enum Next: String, NodeNext {
        case l2Input = "l2-input"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case truncated = "truncated"
        case badUDPChecksum = "bad-udp-checksum"
        case badFlags = "bad-flags"
        case unknownVNI = "unknown-vni"
        case unknownVTEP = "unknown-vtep"
        public var help: String {
            switch self {
            case .truncated: return "too short for UDP + VXLAN + inner Ethernet, or UDP length beyond the packet"
            case .badUDPChecksum: return "outer UDP checksum non-zero and wrong (RFC 1122: discarded, not decapsulated)"
            case .badFlags: return "VXLAN I flag clear (no valid VNI)"
            case .unknownVNI: return "no tunnel with this VNI on this UDP port"
            case .unknownVTEP: return "no tunnel from this source VTEP with this VNI"
            }
        }
    }

    public static let registration = NodeRegistration(name: "vxlan4-input", next: Next.self, errors: Error.self)

    let tunnels: VXLANTunnelTable
    var toL2 = Int32(0)
    var errTruncated = UInt32(0), errChecksum = UInt32(0), errFlags = UInt32(0), errVNI = UInt32(0), errVTEP = UInt32(0)

    public init(tunnels: VXLANTunnelTable) {
        self.tunnels = tunnels
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toL2 = nextIndex(Next.l2Input)
        errTruncated = errorIndex(Error.truncated)
        errChecksum = errorIndex(Error.badUDPChecksum)
        errFlags = errorIndex(Error.badFlags)
        errVNI = errorIndex(Error.unknownVNI)
        errVTEP = errorIndex(Error.unknownVTEP)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let arena = graph.arena
        let rxPackets = graph.interfaces.rxPackets
        let rxBytes = graph.interfaces.rxBytes
        let tracing = graph.trace.enabled
        let keptBits = BufferFlags.traced.rawValue | BufferFlags.l4ChecksumPending.rawValue
        let pendingBit = BufferFlags.l4ChecksumPending.rawValue
        let minUDP = UDP.headerLength + VXLAN.headerLength + Ethernet.headerLength
        var out = NextCursor(to: toL2)
        defer { graph.close(&out) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let base = arena + (Int(bi) &<< BufferPool.bufferShift)
            let l3 = Int(m.pointee.l3Offset)
            let ip = base + l3
            let hl = IPv4.headerLength(ip)
            let l3len = Int(m.pointee.dataOffset) &+ Int(m.pointee.length) &- l3
            let udp = ip + hl
            if _slowPath(l3len < hl &+ minUDP) { drop(graph, bi, errTruncated, tracing); continue }
            let udpLen = Int(UDP.length(udp))
            if _slowPath(udpLen < minUDP || udpLen > l3len &- hl) { drop(graph, bi, errTruncated, tracing); continue }
            if _slowPath(UDP.checksum(udp) != 0) && m.pointee.flags.rawValue & pendingBit == 0
                && !UDP.checksumValid(ip: ip, udp: udp, length: udpLen) {
                drop(graph, bi, errChecksum, tracing); continue
            }
            let vx = udp + UDP.headerLength
            if _slowPath(VXLAN.flags(vx) & VXLAN.flagI == 0) { drop(graph, bi, errFlags, tracing); continue }
            let vni = VXLAN.vni(vx)
            let port = UDP.destinationPort(udp)
            let source = IPv4.source(ip)
            let tunnel = tunnels.lookup(remote: source, vni: vni, port: port)
            if _slowPath(tunnel == 0) {
                drop(graph, bi, tunnels.hasVNI(vni, port: port) ? errVTEP : errVNI, tracing, vni: vni, source: source)
                continue
            }

            // The inner frame, parsed as ethernet-input does.
            let inner = l3 &+ hl &+ UDP.headerLength &+ VXLAN.headerLength
            let innerLen = udpLen &- UDP.headerLength &- VXLAN.headerLength
            let f = base + inner
            var type = Ethernet.u16(f, 12)
            var innerL3 = Ethernet.headerLength
            var flags = m.pointee.flags.rawValue & keptBits
            var vlan: UInt16 = 0
            if type == Ethernet.typeVLAN || type == Ethernet.typeQinQ {
                if _slowPath(innerLen < Ethernet.headerLength + Ethernet.vlanTagLength) {
                    drop(graph, bi, errTruncated, tracing); continue
                }
                vlan = Ethernet.u16(f, 14) & 0x0FFF
                type = Ethernet.u16(f, 16)
                innerL3 = Ethernet.headerLength + Ethernet.vlanTagLength
                flags |= BufferFlags.vlanTagged.rawValue
            }
            if f.load(as: UInt8.self) & 1 == 1 { flags |= BufferFlags.multicast.rawValue }
            m.pointee.dataOffset = UInt16(truncatingIfNeeded: inner)
            m.pointee.l2Offset = UInt16(truncatingIfNeeded: inner)
            m.pointee.l3Offset = UInt16(truncatingIfNeeded: inner &+ innerL3)
            m.pointee.length = UInt16(truncatingIfNeeded: innerLen)
            m.pointee.rxInterface = tunnel
            m.pointee.etherType = type
            m.pointee.vlan = vlan
            m.pointee.flags = BufferFlags(rawValue: flags)
            rxPackets[Int(tunnel)] &+= 1
            rxBytes[Int(tunnel)] &+= UInt64(innerLen)
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(tunnel), b: UInt64(vni), c: UInt64(source)) }
            graph.put(bi, &out)
        }
    }

    @inline(never)
    func drop(_ graph: Graph, _ bi: UInt32, _ error: UInt32, _ tracing: Bool, vni: UInt32 = 0, source: UInt32 = 0) {
        if tracing { graph.traceIfSelected(bi, node: index, b: UInt64(vni), c: UInt64(source), d: UInt64(error)) }
        graph.drop(bi, error: error)
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let from = "vni \(r.b) from \(IPv4.format(UInt32(truncatingIfNeeded: r.c)))"
        return r.a == 0 ? "vxlan4-input: \(from) dropped (counter #\(r.d))" : "vxlan4-input: sw_if_index \(r.a) \(from)"
    }
}
