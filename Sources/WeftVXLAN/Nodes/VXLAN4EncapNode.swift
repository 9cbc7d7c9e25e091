import WeftEngine
import WeftIP4
import WeftPacket

/// vxlan4-encap: the output node of VXLAN tunnel interfaces (l2-output and
/// l2-flood copies with `txInterface` = a tunnel). Puts the tunnel's outer
/// IPv4 + UDP + VXLAN header (a precomputed 36-byte template) in front of
/// the frame and hands the packet to the underlay's ip4-lookup; ip4-rewrite
/// then writes the outer Ethernet header and sends it on the underlay
/// interface.
///
/// Per packet: the inner L3 length (frame - 14, or - 18 with an 802.1Q/ad
/// tag) must fit the tunnel's MTU (else dropped under `mtu-exceeded`, never
/// truncated) and the buffer must have 36 + 14 bytes of headroom (else
/// `no-headroom`); a partial inner L4 checksum (veth CHECKSUM_PARTIAL) is
/// completed first, as af-packet-output would have done, or TCP through the
/// tunnel breaks. The IPv4 total length and header checksum (one
/// incremental add to the template's) and the UDP length are set, and the
/// UDP source port is 49152 + a 14-bit hash of the inner flow (MACs; for
/// IPv4 addresses, protocol and TCP/UDP ports) for underlay ECMP entropy
/// (RFC 7348 section 5). The UDP checksum stays 0.
///
/// A TCP super-frame (tunnels take them whole: InterfaceTable.takesLargeFrames)
/// leaves as UDP GSO frames of VXLAN datagrams, one per segment
/// (VXLAN4EncapNode+SuperFrame.swift), so the underlay gets one frame per
/// 64 KB instead of one per segment.
///
/// Uses: txInterface, dataOffset, length, flags(.l4ChecksumPending, .traced).
/// Sets: dataOffset, l3Offset (the outer IPv4 header), length, fibIndex (the
/// tunnel's underlay table), flowHash, flags (= .ip4LocallyOriginated, plus
/// .traced if set: no TTL handling, and no .multicast/.vlanTagged that would
/// make ip4-rewrite refuse a flooded frame as a link-layer broadcast).
/// Counts tx packets/bytes (inner frame) on the tunnel interface.
public final class VXLAN4EncapNode: GraphNode {
    public enum Next: String, NodeNext {
        case lookup = "ip4-lookup"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case mtuExceeded = "mtu-exceeded"
        case noHeadroom = "no-headroom"
        case notATunnel = "not-a-tunnel"
        case udpGSOFrames = "udp-gso-frames"
        case badSuperFrame = "bad-super-frame"
        case chainNotGSO = "chain-not-gso"
        case noBuffers = "no-buffers"
        public var help: String {
            switch self {
            case .udpGSOFrames: return "UDP GSO frames of VXLAN datagrams made from TCP super-frames (counted, not dropped)"
            case .badSuperFrame: return "super-frames whose headers contradict their GSO metadata, or not TCPv4: dropped"
            case .chainNotGSO: return "multi-buffer frames that are not TCP super-frames (jumbo frames): dropped"
            case .noBuffers: return "super-frames dropped whole because the pool could not give every datagram a buffer"
            case .mtuExceeded: return "inner frame larger than the tunnel MTU: dropped (not truncated)"
            case .noHeadroom: return "not enough buffer headroom for the outer headers"
            case .notATunnel: return "transmit interface is not a VXLAN tunnel"
            }
        }
    }

    public static let registration = NodeRegistration(name: "vxlan4-encap", next: Next.self, errors: Error.self)

    let tunnels: VXLANTunnelTable
    var toLookup = Int32(0)
    var errMTU = UInt32(0), errHeadroom = UInt32(0), errNotTunnel = UInt32(0)
    var errUDPGSO = UInt32(0), errBadSuperFrame = UInt32(0), errChainNotGSO = UInt32(0), errNoBuffers = UInt32(0)
    /// A chained super-frame is gathered here before it is cut (as in gso-segment).
    let scratch: UnsafeMutableRawPointer
    /// Buffers taken for one super-frame's datagrams.
    let segments: UnsafeMutablePointer<UInt32>

    public init(tunnels: VXLANTunnelTable) {
        self.tunnels = tunnels
        scratch = .allocate(byteCount: BufferChain.maxFrameLength, alignment: 64)
        segments = .allocate(capacity: GSOSegmentation.maxSegments)
        super.init(registration: Self.registration)
    }

    deinit { scratch.deallocate(); segments.deallocate() }

    public override func didResolve(_ graph: Graph) {
        toLookup = nextIndex(Next.lookup)
        errMTU = errorIndex(Error.mtuExceeded)
        errHeadroom = errorIndex(Error.noHeadroom)
        errNotTunnel = errorIndex(Error.notATunnel)
        errUDPGSO = errorIndex(Error.udpGSOFrames)
        errBadSuperFrame = errorIndex(Error.badSuperFrame)
        errChainNotGSO = errorIndex(Error.chainNotGSO)
        errNoBuffers = errorIndex(Error.noBuffers)
    }

    /// Hash of the inner flow: both MACs and, for IPv4, the addresses, the
    /// protocol and (first fragments and unfragmented TCP/UDP) the ports.
    /// A few multiplies and xors; the high bits of the last product are used.
    @inline(__always)
    static func flowHash(_ f: UnsafeRawPointer, _ len: Int) -> UInt32 {
        var h = f.loadUnaligned(as: UInt64.self) ^ (UInt64((f + 8).loadUnaligned(as: UInt32.self)) &* 0xC2B2_AE3D_27D4_EB4F)
        var type = Ethernet.u16(f, 12)
        var l3 = Ethernet.headerLength
        if type == Ethernet.typeVLAN || type == Ethernet.typeQinQ {
            type = Ethernet.u16(f, 16)
            l3 = Ethernet.headerLength + Ethernet.vlanTagLength
        }
        if type == Ethernet.typeIPv4 && len >= l3 &+ IPv4.minHeaderLength {
            let ip = f + l3
            let proto = ip.load(fromByteOffset: IPv4.offsetProtocol, as: UInt8.self)
            h = (h &* 0x9E37_79B9_7F4A_7C15) ^ (ip + IPv4.offsetSource).loadUnaligned(as: UInt64.self) ^ UInt64(proto)
            let hl = IPv4.headerLength(ip)
            if (proto == IPv4.protocolTCP || proto == IPv4.protocolUDP) && len >= l3 &+ hl &+ 4
                && IPv4.u16(ip, IPv4.offsetFragment) & IPv4.fragmentOffsetMask == 0 {
                h ^= UInt64((ip + hl).loadUnaligned(as: UInt32.self)) &<< 16
            }
        }
        h = h &* 0x9E37_79B9_7F4A_7C15
        return UInt32(truncatingIfNeeded: h &>> 32)
    }

    /// The outer IPv4 + UDP header from tunnel template `t` at `ip`, for a UDP
    /// payload of `udpLength` - 8 bytes: total length, header checksum (one
    /// incremental add to the template's), UDP length and source port. The one
    /// writer of it, for single frames and UDP GSO frames alike.
    @inline(__always)
    static func writeOuterIPv4UDP(_ ip: UnsafeMutableRawPointer, template t: UnsafeRawPointer, udpLength: Int, sourcePort: UInt16) {
        ip.storeBytes(of: t.load(as: UInt64.self), as: UInt64.self)
        (ip + 8).storeBytes(of: (t + 8).load(as: UInt64.self), as: UInt64.self)
        (ip + 16).storeBytes(of: (t + 16).load(as: UInt64.self), as: UInt64.self)
        (ip + 24).storeBytes(of: (t + 24).load(as: UInt32.self), as: UInt32.self)
        let total = IPv4.minHeaderLength &+ udpLength
        IPv4.store16(UInt16(truncatingIfNeeded: total), ip, IPv4.offsetTotalLength)
        IPv4.adjustChecksum(ip, IPv4.offsetChecksum, by: UInt16(truncatingIfNeeded: total))
        let udp = ip + IPv4.minHeaderLength
        IPv4.store16(sourcePort, udp, UDP.offsetSourcePort)
        IPv4.store16(UInt16(truncatingIfNeeded: udpLength), udp, UDP.offsetLength)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let arena = graph.arena
        let ifMTU = graph.interfaces.mtu
        let txPackets = graph.interfaces.txPackets
        let txBytes = graph.interfaces.txBytes
        let isTunnel = tunnels.isTunnel
        let fib = tunnels.fibIndex
        let templates = tunnels.template
        let tracing = graph.trace.enabled
        let localBit = BufferFlags.ip4LocallyOriginated.rawValue, tracedBit = BufferFlags.traced.rawValue
        let pendingBit = BufferFlags.l4ChecksumPending.rawValue
        let room = VXLAN.encapLength &+ Ethernet.headerLength
        var out = NextCursor(to: toLookup)
        defer { graph.close(&out) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let tx = Int(m.pointee.txInterface)
            let offset = Int(m.pointee.dataOffset)
            let len = Int(m.pointee.length)
            let base = arena + (Int(bi) &<< BufferPool.bufferShift)
            let frame = base + offset
            if _slowPath(!isTunnel[tx]) { graph.drop(bi, error: errNotTunnel); continue }
            if _slowPath(m.pointee.gsoSize != 0 || m.pointee.isChained) { encapsulateSuperFrame(graph, bi, tx: tx, &out); continue }
            let type = Ethernet.u16(frame, 12)
            let l2 = type == Ethernet.typeVLAN || type == Ethernet.typeQinQ
                ? Ethernet.headerLength + Ethernet.vlanTagLength : Ethernet.headerLength
            if _slowPath(len &- l2 > Int(ifMTU[tx])) { graph.drop(bi, error: errMTU); continue }
            if _slowPath(offset < room) { graph.drop(bi, error: errHeadroom); continue }
            let flags = m.pointee.flags.rawValue
            if _slowPath(flags & pendingBit != 0) { Checksum.completeEthernetL4(frame: frame, length: len) }
            let hash = Self.flowHash(frame, len)

            // Outer headers: the template's IPv4 + UDP (lengths, checksum, source port), its VXLAN header.
            let start = offset &- VXLAN.encapLength
            let ip = base + start
            let t = templates + tx &* VXLANTunnelTable.templateStride
            let sport = 0xC000 | UInt16(truncatingIfNeeded: hash) & 0x3FFF
            Self.writeOuterIPv4UDP(ip, template: t, udpLength: len &+ UDP.headerLength &+ VXLAN.headerLength, sourcePort: sport)
            (ip + 28).storeBytes(of: (t + 28).load(as: UInt64.self), as: UInt64.self)
            let total = len &+ VXLAN.encapLength

            m.pointee.dataOffset = UInt16(truncatingIfNeeded: start)
            m.pointee.l3Offset = UInt16(truncatingIfNeeded: start)
            m.pointee.length = UInt16(truncatingIfNeeded: total)
            m.pointee.fibIndex = fib[tx]
            m.pointee.flowHash = hash
            m.pointee.flags = BufferFlags(rawValue: localBit | (flags & tracedBit))
            txPackets[tx] &+= 1
            txBytes[tx] &+= UInt64(len)
            if tracing {
                graph.traceIfSelected(bi, node: index, a: UInt64(tx), b: UInt64(tunnels.vni[tx]),
                                      c: UInt64(tunnels.remote[tx]), d: UInt64(sport))
            }
            graph.put(bi, &out)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "vxlan4-encap: sw_if_index \(r.a) vni \(r.b) -> \(IPv4.format(UInt32(truncatingIfNeeded: r.c))) udp src port \(r.d)"
    }
}
