import WeftEngine
import WeftPacket

/// ethernet-input: validates the Ethernet header, parses one 802.1Q/802.1ad
/// tag, and sends the frame to its interface's L2 path. Frames from an
/// interface outside any bridge domain go to the L3 path when one is in the
/// graph: IPv4 to `ip4-input`, ARP to `arp-input`. Those arcs are optional
/// (found by name in didResolve, so a graph without WeftIP4 still
/// finalizes); without them, or for other ethertypes, the frame is dropped
/// under `not-bridged`.
///
/// Uses: dataOffset, length, rxInterface. Sets: l2Offset, l3Offset, etherType,
/// vlan, flags (.multicast, .vlanTagged).
/// VLAN tags are carried through the bridge unchanged (like a Linux bridge
/// without vlan_filtering); tag-based sub-interfaces are not modelled yet.
public final class EthernetInputNode: GraphNode {
    public enum Next: String, NodeNext {
        case l2Input = "l2-input"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case tooShort = "too-short"
        case vlanTruncated = "vlan-truncated"
        case tooLong = "too-long"
        case notBridged = "not-bridged"
        public var help: String {
            switch self {
            case .tooShort: return "frame shorter than an Ethernet header (14 bytes)"
            case .vlanTruncated: return "VLAN-tagged frame shorter than 18 bytes"
            case .tooLong: return "frame longer than the interface MTU plus L2 header"
            case .notBridged: return "interface is not in a bridge domain and has no L3 path for the ethertype"
            }
        }
    }

    public static let registration = NodeRegistration(name: "ethernet-input", next: Next.self, errors: Error.self)

    var toL2 = Int32(0)
    /// Optional L3 arcs: -1 when the node is not in the graph.
    var toIP4 = Int32(-1), toARP = Int32(-1)
    var errTooShort = UInt32(0), errVlanTruncated = UInt32(0), errTooLong = UInt32(0), errNotBridged = UInt32(0)

    public init() { super.init(registration: Self.registration) }

    public override func didResolve(_ graph: Graph) {
        toL2 = nextIndex(Next.l2Input)
        toIP4 = graph.nodeIndex(named: "ip4-input") ?? -1
        toARP = graph.nodeIndex(named: "arp-input") ?? -1
        errTooShort = errorIndex(Error.tooShort)
        errVlanTruncated = errorIndex(Error.vlanTruncated)
        errTooLong = errorIndex(Error.tooLong)
        errNotBridged = errorIndex(Error.notBridged)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let ifBD = graph.interfaces.bridgeDomain
        let ifMTU = graph.interfaces.mtu
        let tracing = graph.trace.enabled
        var out = NextCursor(to: toL2)
        var ip4Out = NextCursor(to: toIP4)     // opened only when toIP4 >= 0 and used
        defer { graph.close(&out); graph.close(&ip4Out) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let p = graph.data(bi) + Int(m.pointee.dataOffset)
            let len = Int(m.pointee.length)
            if _slowPath(len < Ethernet.headerLength) { graph.drop(bi, error: errTooShort); continue }
            var type = Ethernet.u16(p, 12)
            var l3 = Ethernet.headerLength
            var flags = m.pointee.flags
            if type == Ethernet.typeVLAN || type == Ethernet.typeQinQ {
                if _slowPath(len < Ethernet.headerLength + Ethernet.vlanTagLength) { graph.drop(bi, error: errVlanTruncated); continue }
                m.pointee.vlan = Ethernet.u16(p, 14) & 0x0FFF
                type = Ethernet.u16(p, 16)
                l3 &+= Ethernet.vlanTagLength
                flags.insert(.vlanTagged)
            }
            let rx = Int(m.pointee.rxInterface)
            // A chain's whole length counts, unless it is a GSO super-frame, whose
            // segments (gso-segment, or the receiving kernel) are what meets the MTU.
            if _slowPath(m.pointee.totalLength &- l3 > Int(ifMTU[rx])) && m.pointee.gsoSize == 0 {
                graph.drop(bi, error: errTooLong); continue
            }
            if p.load(as: UInt8.self) & 1 == 1 { flags.insert(.multicast) }
            m.pointee.flags = flags
            m.pointee.etherType = type
            m.pointee.l2Offset = m.pointee.dataOffset
            m.pointee.l3Offset = m.pointee.dataOffset &+ UInt16(truncatingIfNeeded: l3)
            if tracing {
                graph.traceIfSelected(bi, node: index, a: Ethernet.destination(p), b: Ethernet.source(p),
                                      c: UInt64(type), d: UInt64(m.pointee.vlan))
            }
            if ifBD[rx] == InterfaceTable.noBridgeDomain {
                if type == Ethernet.typeIPv4 && toIP4 >= 0 { graph.put(bi, &ip4Out); continue }
                if type == Ethernet.typeARP && toARP >= 0 { graph.enqueue(bi, to: toARP); continue }
                graph.drop(bi, error: errNotBridged)
                continue
            }
            graph.put(bi, &out)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let t = String(r.c, radix: 16, uppercase: false)
        let type = r.c == 0x0800 ? "IP4" : r.c == 0x0806 ? "ARP" : r.c == 0x86DD ? "IP6" : "0x\(t)"
        return "ethernet-input: \(type) \(MACAddress.format(r.b)) -> \(MACAddress.format(r.a))" + (r.d != 0 ? " vlan \(r.d)" : "")
    }
}
