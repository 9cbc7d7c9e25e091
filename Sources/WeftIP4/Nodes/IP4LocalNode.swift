import WeftEngine
import WeftPacket

/// ip4-local: packets addressed to one of the router's own addresses. ICMP
/// goes to icmp-echo. UDP whose length field is impossible (below 8, or
/// beyond the IP payload) is dropped as `udp-bad-length` with no answer, as
/// Linux counts it a UDP error. Other UDP whose destination port is
/// registered in `IP4Feature.localPorts` goes to the node registered for the
/// port (vxlan4-input for 4789), with the buffer unchanged (l3Offset still
/// at the IPv4 header); other UDP gets ICMP port unreachable and every other
/// protocol ICMP protocol unreachable. Fragments are dropped: there is no
/// reassembly.
///
/// Uses: l3Offset, dataOffset, length. Sets: the ICMP error to send (`scratch`).
public final class IP4LocalNode: GraphNode {
    public enum Next: String, NodeNext {
        case icmp = "icmp-echo"
        case icmpError = "ip4-icmp-error"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case fragment = "fragment"
        case udpBadLength = "udp-bad-length"
        case udpNoListener = "udp-no-listener"
        case unknownProtocol = "unknown-protocol"
        public var help: String {
            switch self {
            case .fragment: return "fragment addressed to the router (no reassembly)"
            case .udpBadLength: return "UDP to the router with a length field below 8 or beyond the IP payload (dropped)"
            case .udpNoListener: return "UDP to the router: no listener (ICMP port unreachable sent)"
            case .unknownProtocol: return "protocol not handled by the router (ICMP protocol unreachable sent)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "ip4-local", next: Next.self, errors: Error.self)

    let ports: IP4LocalPorts
    var toICMP = Int32(0), toICMPError = Int32(0)
    var errFragment = UInt32(0), errUDPLength = UInt32(0), errUDP = UInt32(0), errProtocol = UInt32(0)
    /// Listener node of the previous vector's last UDP packet: the cursor starts there.
    var lastListener = Int32(-1)

    public init(ports: IP4LocalPorts) {
        self.ports = ports
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toICMP = nextIndex(Next.icmp)
        toICMPError = nextIndex(Next.icmpError)
        errFragment = errorIndex(Error.fragment)
        errUDPLength = errorIndex(Error.udpBadLength)
        errUDP = errorIndex(Error.udpNoListener)
        errProtocol = errorIndex(Error.unknownProtocol)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let listeners = ports.node
        let tracing = graph.trace.enabled
        var out = NextCursor(to: toICMP)
        var udpOut = NextCursor(to: lastListener)
        defer { graph.close(&out); graph.close(&udpOut); lastListener = udpOut.target }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let ip = graph.data(bi) + Int(m.pointee.l3Offset)
            let proto = ip.load(fromByteOffset: IPv4.offsetProtocol, as: UInt8.self)
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(proto), b: UInt64(IPv4.destination(ip))) }
            if _slowPath(IPv4.u16(ip, IPv4.offsetFragment) & (IPv4.flagMoreFragments | IPv4.fragmentOffsetMask) != 0) {
                graph.drop(bi, error: errFragment); continue
            }
            if proto == IPv4.protocolICMP { graph.put(bi, &out); continue }
            if proto == IPv4.protocolUDP {
                let hl = IPv4.headerLength(ip)
                let l3len = Int(m.pointee.dataOffset) &+ Int(m.pointee.length) &- Int(m.pointee.l3Offset)
                let udpLen = l3len >= hl &+ UDP.headerLength ? Int(UDP.length(ip + hl)) : 0
                if _slowPath(udpLen < UDP.headerLength || udpLen > l3len &- hl) { graph.drop(bi, error: errUDPLength); continue }
                let target = listeners[Int(UDP.destinationPort(ip + hl))]
                if _fastPath(target >= 0) {
                    if _slowPath(target != udpOut.target) {
                        graph.close(&udpOut)
                        udpOut = NextCursor(to: target)
                    }
                    graph.put(bi, &udpOut)
                    continue
                }
                graph.count(errUDP)
                m.pointee.setICMPError(type: ICMP.typeDestinationUnreachable, code: ICMP.codePortUnreachable)
            } else {
                graph.count(errProtocol)
                m.pointee.setICMPError(type: ICMP.typeDestinationUnreachable, code: ICMP.codeProtocolUnreachable)
            }
            graph.enqueue(bi, to: toICMPError)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "ip4-local: proto \(r.a) for \(IPv4.format(UInt32(truncatingIfNeeded: r.b)))"
    }
}
