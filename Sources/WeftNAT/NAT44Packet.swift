import WeftEngine
import WeftPacket

/// What the NAT nodes read from a packet once, in a per-vector scratch
/// array: the 5-tuple (ICMP echo: the identifier as the inside-side port,
/// remote port 0) and what kind of packet it is.
@frozen
public struct NAT44Flow {
    public var src: UInt32 = 0
    public var dst: UInt32 = 0
    public var sport: UInt16 = 0
    public var dport: UInt16 = 0
    public var proto: UInt8 = 0
    public var kind: UInt8 = 0
    public var hl: UInt8 = 0
    public var tcpFlags: UInt8 = 0
    /// The L4 checksum is partial (`.l4ChecksumPending`): its field holds the
    /// pseudo-header sum the sender's kernel left, not a checksum.
    public var checksumPartial = false

    @inlinable public init() {}

    /// TCP, UDP, ICMP echo request/reply: looked up by its tuple.
    public static let kindFlow: UInt8 = 0
    /// ICMP error (unreachable, time exceeded, parameter problem, source quench).
    public static let kindICMPError: UInt8 = 1
    /// A fragment (MF set or offset > 0): not translated.
    public static let kindFragment: UInt8 = 2
    /// TCP/UDP/ICMP shorter than its header.
    public static let kindTruncated: UInt8 = 3
    /// Another IP protocol.
    public static let kindOtherProtocol: UInt8 = 4
    /// ICMP other than echo and errors (timestamp, router advertisement, ...).
    public static let kindOtherICMP: UInt8 = 5
    /// in2out: TTL <= 1. Not translated: ip4-rewrite answers time exceeded
    /// to the inside host itself (traceroute through the NAT works).
    public static let kindTTLExpiring: UInt8 = 6
}

enum NAT44Packet {
    static let tcpFIN: UInt8 = 0x01, tcpSYN: UInt8 = 0x02, tcpRST: UInt8 = 0x04, tcpACK: UInt8 = 0x10

    @inline(__always)
    static func isICMPError(_ type: UInt8) -> Bool { type == 3 || type == 11 || type == 12 || type == 4 }

    /// Reads the flow of the IPv4 packet at `ip` (validated by ip4-input).
    /// `inbound` (out2in): an echo identifier is the destination-side port
    /// (the outside port); in2out it is the source-side port.
    @inline(__always)
    static func parse(_ ip: UnsafeMutableRawPointer, inbound: Bool, _ f: inout NAT44Flow) {
        let hl = IPv4.headerLength(ip)
        let total = Int(IPv4.u16(ip, IPv4.offsetTotalLength))
        f.src = IPv4.source(ip)
        f.dst = IPv4.destination(ip)
        let proto = ip.load(fromByteOffset: IPv4.offsetProtocol, as: UInt8.self)
        f.proto = proto
        f.hl = UInt8(truncatingIfNeeded: hl)
        f.sport = 0; f.dport = 0; f.tcpFlags = 0
        if !inbound && _slowPath(ip.load(fromByteOffset: IPv4.offsetTTL, as: UInt8.self) <= 1) {
            f.kind = NAT44Flow.kindTTLExpiring; return
        }
        if _slowPath(IPv4.u16(ip, IPv4.offsetFragment) & 0x3FFF != 0) { f.kind = NAT44Flow.kindFragment; return }
        let l4 = ip + hl
        let l4len = total &- hl
        if proto == IPv4.protocolTCP {
            if _slowPath(l4len < 20) { f.kind = NAT44Flow.kindTruncated; return }
            f.sport = IPv4.u16(l4, 0); f.dport = IPv4.u16(l4, 2)
            f.tcpFlags = l4.load(fromByteOffset: 13, as: UInt8.self)
            f.kind = NAT44Flow.kindFlow
        } else if proto == IPv4.protocolUDP {
            if _slowPath(l4len < 8) { f.kind = NAT44Flow.kindTruncated; return }
            f.sport = IPv4.u16(l4, 0); f.dport = IPv4.u16(l4, 2)
            f.kind = NAT44Flow.kindFlow
        } else if proto == IPv4.protocolICMP {
            if _slowPath(l4len < ICMP.headerLength) { f.kind = NAT44Flow.kindTruncated; return }
            let type = l4.load(as: UInt8.self)
            if type == ICMP.typeEchoRequest || type == ICMP.typeEchoReply {
                let id = IPv4.u16(l4, 4)
                if inbound { f.dport = id } else { f.sport = id }
                f.tcpFlags = type
                f.kind = NAT44Flow.kindFlow
            } else {
                f.kind = isICMPError(type) ? NAT44Flow.kindICMPError : NAT44Flow.kindOtherICMP
            }
        } else {
            f.kind = NAT44Flow.kindOtherProtocol
        }
    }

    /// Rewrites source and destination address and port (ICMP echo: the
    /// identifier, `newID`) of a `kindFlow` packet, updating the IPv4 and
    /// L4 checksums incrementally (RFC 1624; a zero UDP checksum stays zero).
    /// A partial L4 checksum (`f.checksumPartial`, e.g. a GSO super-frame the
    /// kernel will finish per segment) gets only its pseudo-header's
    /// addresses changed, uncomplemented: the ports are part of the bytes the
    /// kernel sums later.
    @inline(__always)
    static func rewrite(_ ip: UnsafeMutableRawPointer, _ f: NAT44Flow, src: UInt32, sport: UInt16, dst: UInt32, dport: UInt16,
                        oldID: UInt16, newID: UInt16) {
        let l4 = ip + Int(f.hl)
        var ipd = IncrementalChecksum.delta32(f.src, src)
        IPv4.store32(src, ip, IPv4.offsetSource)
        if dst != f.dst {
            ipd &+= IncrementalChecksum.delta32(f.dst, dst)
            IPv4.store32(dst, ip, IPv4.offsetDestination)
        }
        IncrementalChecksum.apply(ip, IPv4.offsetChecksum, ipd)
        if f.proto == IPv4.protocolICMP {
            IPv4.store16(newID, l4, 4)
            IncrementalChecksum.apply(l4, 2, IncrementalChecksum.delta16(oldID, newID))
            return
        }
        let d = ipd &+ IncrementalChecksum.delta16(f.sport, sport) &+ IncrementalChecksum.delta16(f.dport, dport)
        IPv4.store16(sport, l4, 0)
        IPv4.store16(dport, l4, 2)
        if _slowPath(f.checksumPartial) {
            IncrementalChecksum.applyPartial(l4, f.proto == IPv4.protocolTCP ? 16 : 6, ipd)
        } else if f.proto == IPv4.protocolTCP {
            IncrementalChecksum.apply(l4, 16, d)
        } else {
            IncrementalChecksum.applyUDP(l4, 6, d)
        }
    }

    /// New TCP state and timeout class after a segment with `flags` seen
    /// from the inside (`fromInside`) or the outside:
    /// RST -> reset (short timeout); FIN -> transitory; a SYN (no ACK) on a
    /// closed session starts over; established once both directions have
    /// been seen, transitory until then.
    @inline(__always)
    static func tcpUpdate(_ r: UnsafeMutablePointer<NAT44Session>, flags: UInt8, fromInside: Bool) -> UInt8 {
        var st = r.pointee.tcpState
        if flags & tcpRST != 0 {
            st |= NAT44SessionTable.tcpRst
        } else if flags & tcpFIN != 0 {
            st |= NAT44SessionTable.tcpFin
        } else if st & (NAT44SessionTable.tcpFin | NAT44SessionTable.tcpRst) != 0 && flags & (tcpSYN | tcpACK) == tcpSYN {
            st = 0
        }
        st |= fromInside ? NAT44SessionTable.tcpSeenIn : NAT44SessionTable.tcpSeenOut
        r.pointee.tcpState = st
        if st & NAT44SessionTable.tcpRst != 0 { return NAT44SessionTable.classTCPReset }
        if st & NAT44SessionTable.tcpFin != 0 { return NAT44SessionTable.classTCPTransitory }
        return st & 3 == 3 ? NAT44SessionTable.classTCPEstablished : NAT44SessionTable.classTCPTransitory
    }

    @inline(__always)
    static func initialClass(_ proto: UInt8) -> UInt8 {
        proto == IPv4.protocolTCP ? NAT44SessionTable.classTCPTransitory
            : proto == IPv4.protocolUDP ? NAT44SessionTable.classUDP : NAT44SessionTable.classICMP
    }

    /// The packet quoted by an ICMP error: where its header is, its
    /// protocol, addresses and ports (ICMP echo: identifier in both port
    /// fields), and how many of its bytes are present.
    struct Inner {
        var p: UnsafeMutableRawPointer
        var hl: Int
        var available: Int
        var proto: UInt8
        var src: UInt32
        var dst: UInt32
        var sport: UInt16
        var dport: UInt16
    }

    /// The quoted packet of the ICMP error at `ip`, or nil when it is too
    /// short to hold an IPv4 header and 8 bytes of TCP/UDP/ICMP echo.
    static func inner(_ ip: UnsafeMutableRawPointer, _ f: NAT44Flow) -> Inner? {
        let hl = Int(f.hl)
        let total = Int(IPv4.u16(ip, IPv4.offsetTotalLength))
        let icmpLength = total - hl
        guard icmpLength >= ICMP.headerLength + IPv4.minHeaderLength + 8 else { return nil }
        let p = ip + hl + ICMP.headerLength
        let avail = icmpLength - ICMP.headerLength
        guard p.load(as: UInt8.self) >> 4 == 4 else { return nil }
        let ihl = IPv4.headerLength(p)
        guard ihl >= IPv4.minHeaderLength, avail >= ihl + 8 else { return nil }
        let proto = p.load(fromByteOffset: IPv4.offsetProtocol, as: UInt8.self)
        let l4 = p + ihl
        var sport: UInt16 = 0, dport: UInt16 = 0
        switch proto {
        case IPv4.protocolTCP, IPv4.protocolUDP:
            sport = IPv4.u16(l4, 0); dport = IPv4.u16(l4, 2)
        case IPv4.protocolICMP:
            let type = l4.load(as: UInt8.self)
            guard type == ICMP.typeEchoRequest || type == ICMP.typeEchoReply else { return nil }
            sport = IPv4.u16(l4, 4); dport = sport
        default:
            return nil
        }
        return Inner(p: p, hl: ihl, available: avail, proto: proto, src: IPv4.source(p), dst: IPv4.destination(p),
                     sport: sport, dport: dport)
    }

    /// Rewrites the quoted packet of an ICMP error (its addresses, ports or
    /// echo identifier, its header checksum and, when present, its L4
    /// checksum) and the outer addresses, then adjusts the outer ICMP and
    /// IPv4 checksums by the difference (RFC 1624, over the rewritten region).
    static func rewriteError(_ ip: UnsafeMutableRawPointer, _ f: NAT44Flow, _ inner: Inner,
                             outerSrc: UInt32, outerDst: UInt32,
                             innerSrc: UInt32, innerSport: UInt16, innerDst: UInt32, innerDport: UInt16) {
        let icmp = ip + Int(f.hl)
        let p = inner.p
        // Region of the ICMP payload that may change: the quoted header and
        // up to 20 bytes of its L4 header (a TCP checksum, when quoted).
        let region = min(inner.available, inner.hl + 20)
        let before = Checksum.sum(p, region)

        let ipd = IncrementalChecksum.delta32(inner.src, innerSrc) &+ IncrementalChecksum.delta32(inner.dst, innerDst)
        IPv4.store32(innerSrc, p, IPv4.offsetSource)
        IPv4.store32(innerDst, p, IPv4.offsetDestination)
        IncrementalChecksum.apply(p, IPv4.offsetChecksum, ipd)
        let l4 = p + inner.hl
        let l4avail = inner.available - inner.hl
        switch inner.proto {
        case IPv4.protocolTCP:
            let d = ipd &+ IncrementalChecksum.delta16(inner.sport, innerSport) &+ IncrementalChecksum.delta16(inner.dport, innerDport)
            IPv4.store16(innerSport, l4, 0); IPv4.store16(innerDport, l4, 2)
            if l4avail >= 18 { IncrementalChecksum.apply(l4, 16, d) }
        case IPv4.protocolUDP:
            let d = ipd &+ IncrementalChecksum.delta16(inner.sport, innerSport) &+ IncrementalChecksum.delta16(inner.dport, innerDport)
            IPv4.store16(innerSport, l4, 0); IPv4.store16(innerDport, l4, 2)
            IncrementalChecksum.applyUDP(l4, 6, d)
        default:
            // Echo: the identifier is `innerSport` (== innerDport by construction).
            IPv4.store16(innerSport, l4, 4)
            IncrementalChecksum.apply(l4, 2, IncrementalChecksum.delta16(inner.sport, innerSport))
        }
        let after = Checksum.sum(p, region)
        IncrementalChecksum.apply(icmp, 2, IncrementalChecksum.deltaSums(old: before, new: after))

        let od = IncrementalChecksum.delta32(f.src, outerSrc) &+ IncrementalChecksum.delta32(f.dst, outerDst)
        IPv4.store32(outerSrc, ip, IPv4.offsetSource)
        IPv4.store32(outerDst, ip, IPv4.offsetDestination)
        IncrementalChecksum.apply(ip, IPv4.offsetChecksum, od)
    }
}
