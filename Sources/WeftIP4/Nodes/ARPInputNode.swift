import WeftEngine
import WeftPacket

/// arp-input: ARP on routed (non-bridged) interfaces. Answers requests for
/// the receiving interface's address (the reply is built in the same buffer
/// and sent straight back out of that interface), and learns the sender of
/// every request or reply addressed to us whose address lies on the
/// interface's subnet; ARP not addressed to us only refreshes a neighbour we
/// already know (RFC 826's merge). A request with sender 0.0.0.0 (an RFC
/// 5227 probe) is answered and learns nothing.
///
/// Uses: l2Offset, l3Offset, dataOffset, length, rxInterface. Sets (replies):
/// dataOffset, length (42 bytes, or 46 tagged), txInterface.
public final class ARPInputNode: GraphNode {
    public enum Next: String, NodeNext {
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case repliesSent = "replies-sent"
        case learned = "learned"
        case repliesReceived = "replies-received"
        case notForUs = "not-for-us"
        case tooShort = "too-short"
        case notEthernetIPv4 = "not-ethernet-ipv4"
        case badOperation = "bad-operation"
        case disabled = "ip4-disabled"
        case senderMulticast = "sender-multicast"
        case addressConflict = "address-conflict"
        case senderOffSubnet = "sender-off-subnet"
        case tableFull = "neighbour-table-full"
        case interfaceDown = "interface-down"
        public var help: String {
            switch self {
            case .repliesSent: return "ARP replies sent for our addresses"
            case .learned: return "neighbours learned or changed"
            case .repliesReceived: return "ARP replies to us (consumed after learning)"
            case .notForUs: return "ARP for another address (consumed)"
            case .tooShort: return "shorter than an ARP body (28 bytes)"
            case .notEthernetIPv4: return "not Ethernet/IPv4 ARP"
            case .badOperation: return "operation neither request nor reply"
            case .disabled: return "IPv4 is not enabled on the receiving interface (no address)"
            case .senderMulticast: return "sender MAC is multicast or broadcast"
            case .addressConflict: return "sender claims the router's own address"
            case .senderOffSubnet: return "ARP for us from an address outside the interface's subnet"
            case .tableFull: return "neighbour not learned: neighbour or adjacency table full"
            case .interfaceDown: return "reply not sent: interface down"
            }
        }
    }

    public static let registration = NodeRegistration(name: "arp-input", next: Next.self, errors: Error.self)

    let ip4: IP4Feature
    var errRepliesSent = UInt32(0), errLearned = UInt32(0), errRepliesReceived = UInt32(0), errNotForUs = UInt32(0)
    var errTooShort = UInt32(0), errFormat = UInt32(0), errOperation = UInt32(0), errDisabled = UInt32(0)
    var errSenderMulticast = UInt32(0), errConflict = UInt32(0), errOffSubnet = UInt32(0), errTableFull = UInt32(0)
    var errDown = UInt32(0)

    public init(ip4: IP4Feature) {
        self.ip4 = ip4
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        errRepliesSent = errorIndex(Error.repliesSent)
        errLearned = errorIndex(Error.learned)
        errRepliesReceived = errorIndex(Error.repliesReceived)
        errNotForUs = errorIndex(Error.notForUs)
        errTooShort = errorIndex(Error.tooShort)
        errFormat = errorIndex(Error.notEthernetIPv4)
        errOperation = errorIndex(Error.badOperation)
        errDisabled = errorIndex(Error.disabled)
        errSenderMulticast = errorIndex(Error.senderMulticast)
        errConflict = errorIndex(Error.addressConflict)
        errOffSubnet = errorIndex(Error.senderOffSubnet)
        errTableFull = errorIndex(Error.tableFull)
        errDown = errorIndex(Error.interfaceDown)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let enabled = ip4.interfaces.enabled, ifAddress = ip4.interfaces.address
        let ifMask = ip4.interfaces.netmask, ifMAC = ip4.interfaces.mac
        let up = graph.interfaces.up
        let outputNode = graph.interfaces.outputNode
        let now = graph.nowSeconds
        let tracing = graph.trace.enabled
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let base = graph.data(bi)
            let l3 = Int(m.pointee.l3Offset)
            let arp = base + l3
            let rx = Int(m.pointee.rxInterface)
            if _slowPath(Int(m.pointee.dataOffset) &+ Int(m.pointee.length) &- l3 < ARP.length) { graph.drop(bi, error: errTooShort); continue }
            if _slowPath(!ARP.isEthernetIPv4(arp)) { graph.drop(bi, error: errFormat); continue }
            let op = IPv4.u16(arp, ARP.offsetOperation)
            let sha = Ethernet.mac(at: arp + ARP.offsetSenderMAC)
            let spa = IPv4.u32(arp, ARP.offsetSenderIP)
            let tpa = IPv4.u32(arp, ARP.offsetTargetIP)
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(op), b: UInt64(spa), c: UInt64(tpa), d: sha) }
            if _slowPath(op != ARP.opRequest && op != ARP.opReply) { graph.drop(bi, error: errOperation); continue }
            if _slowPath(!enabled[rx]) { graph.drop(bi, error: errDisabled); continue }
            if _slowPath(Ethernet.isGroup(sha)) { graph.drop(bi, error: errSenderMulticast); continue }
            let ours = ifAddress[rx]
            if _slowPath(spa == ours) { graph.drop(bi, error: errConflict); continue }
            let forUs = tpa == ours
            if spa & ifMask[rx] == ours & ifMask[rx] && spa != 0 {
                switch ip4.learn(interface: UInt32(rx), address: spa, mac: sha, now: now, create: forUs) {
                case .learned, .changed: graph.count(errLearned)
                case .tableFull: graph.count(errTableFull)
                default: break
                }
            } else if forUs && spa != 0 {
                graph.drop(bi, error: errOffSubnet); continue
            }
            if !forUs { graph.drop(bi, error: errNotForUs); continue }
            if op == ARP.opReply { graph.drop(bi, error: errRepliesReceived); continue }

            // Reply in place: to the asker, from our MAC, trimmed to the ARP body.
            let target = outputNode[rx]
            if _slowPath(!up[rx] || target < 0) { graph.drop(bi, error: errDown); continue }
            let l2 = Int(m.pointee.l2Offset)
            let ourMAC = ifMAC[rx]
            Ethernet.storeMAC(sha, at: base + l2)
            Ethernet.storeMAC(ourMAC, at: base + (l2 &+ 6))
            ARP.write(arp, operation: ARP.opReply, senderMAC: ourMAC, senderIP: ours, targetMAC: sha, targetIP: spa)
            m.pointee.dataOffset = UInt16(truncatingIfNeeded: l2)
            m.pointee.length = UInt16(truncatingIfNeeded: l3 &+ ARP.length &- l2)
            m.pointee.txInterface = UInt32(rx)
            graph.count(errRepliesSent)
            graph.enqueue(bi, to: target)
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let op = r.a == 1 ? "request" : r.a == 2 ? "reply" : "op \(r.a)"
        return "arp-input: \(op) who-has \(IPv4.format(UInt32(truncatingIfNeeded: r.c))) tell \(IPv4.format(UInt32(truncatingIfNeeded: r.b))) (\(MACAddress.format(r.d)))"
    }
}
