import WeftEngine
import WeftPacket

/// l2-input: puts the frame into its receive interface's bridge domain and
/// rejects frames that no switch may forward, and, on a guarded interface
/// (a container's), frames not from the container's own MAC or, for IPv4
/// and ARP, its own address (SourceGuardTable); then frames over the
/// interface's egress bandwidth limit (PolicerTable, the CNI bandwidth
/// capability's egressRate/egressBurst).
///
/// Uses: rxInterface, l2Offset, length. Sets: bridgeDomain.
public final class L2InputNode: GraphNode {
    public enum Next: String, NodeNext {
        case learn = "l2-learn"
        case fwd = "l2-fwd"
        case drop = "error-drop"
    }

    public enum Error: String, NodeError {
        case sourceMulticast = "source-multicast"
        case bridgeDomainDown = "bridge-domain-missing"
        case spoofedMAC = "spoofed-mac"
        case spoofedIPv4 = "spoofed-ip4"
        case spoofedARP = "spoofed-arp"
        case malformedIPv4 = "guard-malformed-ip4"
        case malformedARP = "guard-malformed-arp"
        case guardedVLAN = "guarded-vlan"
        case policed = "policed"
        public var help: String {
            switch self {
            case .sourceMulticast: return "source MAC is multicast or broadcast"
            case .bridgeDomainDown: return "interface's bridge domain does not exist"
            case .spoofedMAC: return "container frames from a MAC not its own"
            case .spoofedIPv4: return "container IPv4 packets from an address not its own"
            case .spoofedARP: return "container ARP claiming an address not its own"
            case .malformedIPv4: return "container frame with the IPv4 ethertype too short for an IPv4 header (the source guard cannot read its source)"
            case .malformedARP: return "container ARP that is not Ethernet/IPv4 (hardware type 1, length 6; protocol 0x0800, length 4) or is cut short"
            case .guardedVLAN: return "VLAN-tagged frames from a container (not allowed: the tag would hide the addresses)"
            case .policed: return "container frames over its egress bandwidth limit (egressRate/egressBurst)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "l2-input", next: Next.self, errors: Error.self)

    let domains: BridgeDomainTable
    let sourceGuard: SourceGuardTable
    let policer: PolicerTable
    var toLearn = Int32(0), toFwd = Int32(0)
    var errSourceMulticast = UInt32(0), errNoDomain = UInt32(0)
    var errSpoofedMAC = UInt32(0), errSpoofedIPv4 = UInt32(0), errSpoofedARP = UInt32(0), errVLAN = UInt32(0)
    var errMalformedIPv4 = UInt32(0), errMalformedARP = UInt32(0)
    var errPoliced = UInt32(0)

    public init(domains: BridgeDomainTable, sourceGuard: SourceGuardTable = SourceGuardTable(),
                policer: PolicerTable = PolicerTable()) {
        self.domains = domains
        self.sourceGuard = sourceGuard
        self.policer = policer
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toLearn = nextIndex(Next.learn)
        toFwd = nextIndex(Next.fwd)
        errSourceMulticast = errorIndex(Error.sourceMulticast)
        errNoDomain = errorIndex(Error.bridgeDomainDown)
        errSpoofedMAC = errorIndex(Error.spoofedMAC)
        errSpoofedIPv4 = errorIndex(Error.spoofedIPv4)
        errSpoofedARP = errorIndex(Error.spoofedARP)
        errMalformedIPv4 = errorIndex(Error.malformedIPv4)
        errMalformedARP = errorIndex(Error.malformedARP)
        errVLAN = errorIndex(Error.guardedVLAN)
        errPoliced = errorIndex(Error.policed)
    }

    /// The counter a guarded frame violates, or nil when it may pass. IPv4 from
    /// 0.0.0.0 (DHCP) and ARP from 0.0.0.0 (probes, RFC 5227) are allowed. A
    /// frame whose addresses cannot be read (too short, an ARP of another
    /// hardware or protocol type) is malformed, not spoofed: it gets its own
    /// counter, so the operator is not sent looking for an impostor.
    @inline(__always)
    private func violation(_ p: UnsafeMutableRawPointer, length: Int, allowedMAC: UInt64, allowedIPv4: UInt32) -> UInt32? {
        if Ethernet.source(p) != allowedMAC { return errSpoofedMAC }
        let type = Ethernet.u16(p, 12)
        if type == Ethernet.typeIPv4 {
            guard allowedIPv4 != 0 else { return nil }
            guard length >= Ethernet.headerLength + 20 else { return errMalformedIPv4 }
            let src = UInt32(bigEndian: (p + Ethernet.headerLength + 12).loadUnaligned(as: UInt32.self))
            return src == allowedIPv4 || src == 0 ? nil : errSpoofedIPv4
        }
        if type == Ethernet.typeARP {
            guard allowedIPv4 != 0 else { return nil }
            // Sender hardware address (offset 8) and sender protocol address (offset 14) of the ARP body.
            guard length >= Ethernet.headerLength + 28 else { return errMalformedARP }
            // htype 1, ptype 0x0800, hlen 6, plen 4: the only layout whose addresses sit where read below.
            guard (p + Ethernet.headerLength).loadUnaligned(as: UInt32.self) == UInt32(0x0001_0800).bigEndian,
                  Ethernet.u16(p, Ethernet.headerLength + 4) == 0x0604 else { return errMalformedARP }
            let sha = Ethernet.mac(at: p + Ethernet.headerLength + 8)
            let spa = UInt32(bigEndian: (p + Ethernet.headerLength + 14).loadUnaligned(as: UInt32.self))
            return sha == allowedMAC && (spa == allowedIPv4 || spa == 0) ? nil : errSpoofedARP
        }
        if type == Ethernet.typeVLAN || type == Ethernet.typeQinQ { return errVLAN }
        return nil
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let ifBD = graph.interfaces.bridgeDomain
        let exists = domains.exists
        let learning = domains.learning
        let guardMAC = sourceGuard.mac, guardIPv4 = sourceGuard.ipv4, guardMiss = sourceGuard.macMiss
        let buckets = policer.egress, hz = policer.hz
        var now = UInt64(0)  // read once per vector, at the first policed frame
        let tracing = graph.trace.enabled
        var toLearnCursor = NextCursor(to: toLearn)
        defer { graph.close(&toLearnCursor) }
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let bd = ifBD[Int(m.pointee.rxInterface)]
            let p = graph.data(bi) + Int(m.pointee.l2Offset)
            if _slowPath(p.load(fromByteOffset: 6, as: UInt8.self) & 1 == 1) { graph.drop(bi, error: errSourceMulticast); continue }
            if _slowPath(!exists[Int(bd)]) { graph.drop(bi, error: errNoDomain); continue }
            let rx = Int(m.pointee.rxInterface)
            let length = Int(m.pointee.length) &- (Int(m.pointee.l2Offset) &- Int(m.pointee.dataOffset))
            if guardMAC[rx] != 0,
               let error = violation(p, length: length, allowedMAC: guardMAC[rx], allowedIPv4: guardIPv4[rx]) {
                if error == errSpoofedMAC { guardMiss[rx] = 1 }
                graph.drop(bi, error: error)
                continue
            }
            if _slowPath(buckets[rx].bytesPerSecond != 0) {
                if now == 0 { now = policer.clock() }
                if !PolicerTable.conform(buckets + rx, bytes: length &+ Int(m.pointee.chainLength), now: now, hz: hz) {
                    graph.drop(bi, error: errPoliced)
                    continue
                }
            }
            m.pointee.bridgeDomain = bd
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(bd), b: UInt64(m.pointee.rxInterface)) }
            if learning[Int(bd)] { graph.put(bi, &toLearnCursor) } else { graph.enqueue(bi, to: toFwd) }
        }
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "l2-input: bridge-domain \(r.a) from sw_if_index \(r.b)"
    }
}
