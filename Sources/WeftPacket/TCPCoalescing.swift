/// Receive coalescing of TCP segments into one GSO super-frame, the header
/// rules of Linux's `tcp_gro_receive` (net/ipv4/tcp_offload.c): a segment
/// joins the one before it only when nothing but the sequence number, the
/// IP id, the window and a PSH on the last one tell them apart, so the
/// kernel that later cuts the super-frame again (TSO, GSO) makes the same
/// segments back.
///
/// A segment is mergeable when it is untagged Ethernet + IPv4 without
/// options, not a fragment, TCP with a payload and no flag but ACK and PSH.
/// It continues a run when the Ethernet header, the IPv4 TOS, TTL, DF bit,
/// addresses and ports, the acknowledgment number and the TCP options
/// (timestamps included) are the same, its sequence number is the next one
/// expected, and the run's segments so far were all full (the segment size
/// is the first one's payload).
///
/// Pure functions over bytes, no allocation; GROCoalescer (WeftIO) applies
/// them to a vector of buffers.
public enum TCPCoalescing {
    /// Where a mergeable segment's headers are.
    public struct Segment: Equatable, Sendable {
        /// Bytes of headers: Ethernet, IPv4 and TCP with its options.
        public var headerLength: Int
        /// TCP payload bytes.
        public var payload: Int
        public var sequence: UInt32
        /// The segment carries PSH (it must end a run).
        public var push: Bool

        @inlinable
        public init(headerLength: Int, payload: Int, sequence: UInt32, push: Bool) {
            self.headerLength = headerLength; self.payload = payload; self.sequence = sequence; self.push = push
        }

        public static let l3Offset = Ethernet.headerLength
        public static let l4Offset = Ethernet.headerLength &+ IPv4.minHeaderLength
    }

    public static let flagPSH: UInt8 = 0x08, flagACK: UInt8 = 0x10

    /// The segment in the `length`-byte frame at `frame`, or nil when it is
    /// not one that coalescing takes (see the type's doc).
    @inlinable
    public static func parse(_ frame: UnsafeRawPointer, length: Int) -> Segment? {
        let l3 = Segment.l3Offset, l4 = Segment.l4Offset
        guard length >= l4 &+ 20, Ethernet.u16(frame, 12) == Ethernet.typeIPv4 else { return nil }
        let ip = frame + l3
        guard ip.load(as: UInt8.self) == 0x45, ip.load(fromByteOffset: IPv4.offsetProtocol, as: UInt8.self) == IPv4.protocolTCP,
              IPv4.u16(ip, IPv4.offsetFragment) & (IPv4.flagMoreFragments | IPv4.fragmentOffsetMask) == 0 else { return nil }
        let total = Int(IPv4.u16(ip, IPv4.offsetTotalLength))
        let tcp = frame + l4
        let tcpHeader = Int(tcp.load(fromByteOffset: 12, as: UInt8.self) >> 4) &<< 2
        let flags = tcp.load(fromByteOffset: 13, as: UInt8.self)
        guard tcpHeader >= 20, l3 &+ total <= length, total >= IPv4.minHeaderLength &+ tcpHeader,
              flags & ~(flagACK | flagPSH) == 0, flags & flagACK != 0 else { return nil }
        let payload = total &- IPv4.minHeaderLength &- tcpHeader
        guard payload > 0 else { return nil }
        return Segment(headerLength: l4 &+ tcpHeader, payload: payload, sequence: IPv4.u32(tcp, 4), push: flags & flagPSH != 0)
    }

    /// Whether `next` (the frame at `nextFrame`) may follow `head` (the run's
    /// first frame) with `expected` as its sequence number.
    @inlinable
    public static func continues(_ headFrame: UnsafeRawPointer, _ head: Segment, expected: UInt32,
                                 _ nextFrame: UnsafeRawPointer, _ next: Segment) -> Bool {
        guard next.sequence == expected, next.headerLength == head.headerLength else { return false }
        // Ethernet: both addresses and the type (14 bytes).
        guard headFrame.loadUnaligned(as: UInt64.self) == nextFrame.loadUnaligned(as: UInt64.self),
              (headFrame + 8).loadUnaligned(as: UInt32.self) == (nextFrame + 8).loadUnaligned(as: UInt32.self) else { return false }
        let a = headFrame + Segment.l3Offset, b = nextFrame + Segment.l3Offset
        // IPv4: version/IHL + TOS, DF, TTL + protocol, both addresses.
        guard IPv4.u16(a, 0) == IPv4.u16(b, 0),
              IPv4.u16(a, IPv4.offsetFragment) == IPv4.u16(b, IPv4.offsetFragment),
              IPv4.u16(a, IPv4.offsetTTL) == IPv4.u16(b, IPv4.offsetTTL),
              (a + IPv4.offsetSource).loadUnaligned(as: UInt64.self) == (b + IPv4.offsetSource).loadUnaligned(as: UInt64.self)
        else { return false }
        let ta = headFrame + Segment.l4Offset, tb = nextFrame + Segment.l4Offset
        // TCP: ports, acknowledgment number, options (bytes 20 to the header's end).
        guard ta.loadUnaligned(as: UInt32.self) == tb.loadUnaligned(as: UInt32.self),
              (ta + 8).loadUnaligned(as: UInt32.self) == (tb + 8).loadUnaligned(as: UInt32.self) else { return false }
        let options = head.headerLength &- Segment.l4Offset &- 20
        return options == 0 || memcmp(ta + 20, tb + 20, options) == 0
    }

    /// Whether the segment's TCP checksum is right (a complete one, as
    /// received from another host: a wrong one is never hidden in a run).
    @inlinable
    public static func checksumValid(_ frame: UnsafeRawPointer, _ s: Segment) -> Bool {
        let ip = frame + Segment.l3Offset
        let l4Length = s.headerLength &- Segment.l4Offset &+ s.payload
        let pseudo = Checksum.pseudoHeaderSum(ip: ip, protocol: IPv4.protocolTCP, l4Length: l4Length)
        return Checksum.fold(Checksum.sum(frame + Segment.l4Offset, l4Length, initial: pseudo)) == 0xFFFF
    }

    /// Rewrites the head's headers for the whole run: the IPv4 total length
    /// (for `payload` bytes) and header checksum, PSH when the run ended with
    /// one, the window of its last segment, and the TCP checksum field as the
    /// partial (pseudo-header) sum a GSO frame carries (CHECKSUM_PARTIAL).
    @inlinable
    public static func finish(_ headFrame: UnsafeMutableRawPointer, _ head: Segment, payload: Int, push: Bool, window: UInt16) {
        let ip = headFrame + Segment.l3Offset, tcp = headFrame + Segment.l4Offset
        let l4Length = head.headerLength &- Segment.l4Offset &+ payload
        IPv4.store16(UInt16(truncatingIfNeeded: IPv4.minHeaderLength &+ l4Length), ip, IPv4.offsetTotalLength)
        IPv4.setHeaderChecksum(ip, headerLength: IPv4.minHeaderLength)
        if push { tcp.storeBytes(of: tcp.load(fromByteOffset: 13, as: UInt8.self) | flagPSH, toByteOffset: 13, as: UInt8.self) }
        IPv4.store16(window, tcp, 14)
        let pseudo = Checksum.pseudoHeaderSum(ip: ip, protocol: IPv4.protocolTCP, l4Length: l4Length)
        IPv4.store16(Checksum.fold(pseudo), tcp, 16)
    }

    /// The TCP window of a mergeable segment's frame.
    @inlinable
    public static func window(_ frame: UnsafeRawPointer) -> UInt16 { IPv4.u16(frame + Segment.l4Offset, 14) }

    /// Largest payload a run may reach: its IPv4 total length must fit 16 bits.
    @inlinable
    public static func maxPayload(_ head: Segment) -> Int { 65_535 &- (head.headerLength &- Segment.l3Offset) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
