import WeftEngine
import WeftPacket

/// What ip4-lookup does with a packet whose route resolves to an adjacency.
public enum AdjacencyKind: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// No route: ip4-icmp-error sends destination unreachable (net). Adjacency 0;
    /// a FIB miss reads as this adjacency.
    case unreachable = 0
    /// Blackhole route: dropped under `ip4-lookup/blackhole`.
    case drop = 1
    /// One of the router's own addresses: ip4-local.
    case local = 2
    /// Directed broadcast of a connected subnet: dropped under `ip4-lookup/broadcast`.
    case broadcast = 3
    /// Connected subnet: the next hop is the packet's destination; forwarded
    /// once its neighbour is known (a /32 host route to a rewrite adjacency),
    /// until then ip4-arp asks for it.
    case glean = 4
    /// A next hop whose MAC is not known yet (incomplete neighbour): ip4-arp.
    case arp = 5
    /// Resolved: ip4-rewrite writes `rewrite` and sends on `interface`.
    case rewrite = 6

    public var description: String {
        switch self {
        case .unreachable: return "unreachable"
        case .drop: return "drop"
        case .local: return "local"
        case .broadcast: return "broadcast"
        case .glean: return "glean"
        case .arp: return "arp"
        case .rewrite: return "rewrite"
        }
    }
}

/// Adjacencies: what a FIB result means, in flat arrays indexed by the
/// `UInt32` the FIB returns. ip4-lookup reads `kind`; ip4-rewrite reads
/// `interface`, `mtu` and the 14-byte precomputed L2 header (destination
/// MAC, source MAC, ethertype) in `rewrite`; ip4-arp reads `interface` and
/// `nextHop`.
///
/// Adjacencies 0...3 are fixed and shared: `unreachable`, `drop`, `local`,
/// `broadcast`. Glean adjacencies belong to an interface address (one per
/// connected subnet); arp/rewrite adjacencies belong to a neighbour (one per
/// (interface, next hop)): the neighbour's resolution turns its adjacency
/// from `arp` into `rewrite` in place, so every route through it follows
/// without touching the FIB.
///
/// Written by the control thread under the barrier and by the worker when it
/// learns neighbours (single writer at a time); read by the worker.
public final class AdjacencyTable {
    public static let unreachable: UInt32 = 0
    public static let drop: UInt32 = 1
    public static let local: UInt32 = 2
    public static let broadcast: UInt32 = 3
    static let reservedCount = 4
    /// Bytes of `rewrite` per adjacency: the 14-byte Ethernet header, padded.
    public static let rewriteStride = 16

    public let capacity: Int
    public let kind: UnsafeMutablePointer<UInt8>
    public let interface: UnsafeMutablePointer<UInt32>
    public let mtu: UnsafeMutablePointer<UInt16>
    public let nextHop: UnsafeMutablePointer<UInt32>
    /// `rewriteStride` bytes per adjacency; the first 14 are the L2 header.
    public let rewrite: UnsafeMutableRawPointer
    /// Set (to 1) by ip4-rewrite for every adjacency a packet leaves through;
    /// cleared by neighbour refresh, which probes only neighbours whose
    /// adjacency was used since (a load and a rarely taken store per packet).
    public let used: UnsafeMutablePointer<UInt8>
    let inUse: UnsafeMutablePointer<Bool>
    // Free list as a flat stack, so the worker may allocate without touching an Array.
    let freeStack: UnsafeMutablePointer<UInt32>
    var freeCount = 0
    var fresh: Int
    public private(set) var count = reservedCount

    public init(capacity: Int = 1 << 16) {
        precondition(capacity > AdjacencyTable.reservedCount && capacity <= Int(FIBTable.maxAdjacency))
        self.capacity = capacity
        kind = .allocate(capacity: capacity); kind.initialize(repeating: AdjacencyKind.unreachable.rawValue, count: capacity)
        interface = .allocate(capacity: capacity); interface.initialize(repeating: 0, count: capacity)
        mtu = .allocate(capacity: capacity); mtu.initialize(repeating: 0, count: capacity)
        nextHop = .allocate(capacity: capacity); nextHop.initialize(repeating: 0, count: capacity)
        rewrite = .allocate(byteCount: capacity * AdjacencyTable.rewriteStride, alignment: 64)
        rewrite.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * AdjacencyTable.rewriteStride)
        used = .allocate(capacity: capacity); used.initialize(repeating: 0, count: capacity)
        inUse = .allocate(capacity: capacity); inUse.initialize(repeating: false, count: capacity)
        freeStack = .allocate(capacity: capacity)
        fresh = AdjacencyTable.reservedCount
        let fixed: [AdjacencyKind] = [.unreachable, .drop, .local, .broadcast]
        for (i, k) in fixed.enumerated() { kind[i] = k.rawValue; inUse[i] = true }
    }

    deinit {
        kind.deallocate(); interface.deallocate(); mtu.deallocate(); nextHop.deallocate()
        rewrite.deallocate(); used.deallocate(); inUse.deallocate(); freeStack.deallocate()
    }

    /// A new adjacency, or nil when all `capacity` are in use.
    public func allocate(kind k: AdjacencyKind, interface i: UInt32, nextHop nh: UInt32, mtu m: UInt16) -> UInt32? {
        let a: Int
        if freeCount > 0 {
            freeCount &-= 1
            a = Int(freeStack[freeCount])
        } else if fresh < capacity {
            a = fresh
            fresh &+= 1
        } else {
            return nil
        }
        kind[a] = k.rawValue
        interface[a] = i
        nextHop[a] = nh
        used[a] = 0
        mtu[a] = m
        (rewrite + a &* AdjacencyTable.rewriteStride).initializeMemory(as: UInt8.self, repeating: 0, count: AdjacencyTable.rewriteStride)
        inUse[a] = true
        count &+= 1
        return UInt32(a)
    }

    /// Returns `a` to the free list (never one of the fixed four).
    public func free(_ a: UInt32) {
        let i = Int(a)
        guard i >= AdjacencyTable.reservedCount, i < capacity, inUse[i] else { return }
        inUse[i] = false
        kind[i] = AdjacencyKind.drop.rawValue
        freeStack[freeCount] = a
        freeCount &+= 1
        count &-= 1
    }

    public func isInUse(_ a: UInt32) -> Bool { Int(a) < capacity && inUse[Int(a)] }

    public func kindOf(_ a: UInt32) -> AdjacencyKind { AdjacencyKind(rawValue: kind[Int(a)]) ?? .drop }

    /// Turns `a` into a rewrite adjacency to `dst` from `src` (IPv4 ethertype).
    public func setRewrite(_ a: UInt32, dst: UInt64, src: UInt64) {
        let p = rewrite + Int(a) &* AdjacencyTable.rewriteStride
        Ethernet.storeMAC(dst, at: p)
        Ethernet.storeMAC(src, at: p + 6)
        IPv4.store16(Ethernet.typeIPv4, p, 12)
        kind[Int(a)] = AdjacencyKind.rewrite.rawValue
    }

    /// Writes adjacency `a`'s 14-byte L2 header at `p` with two overlapping
    /// 8-byte copies (bytes 0-7 and 6-13), so nothing past byte 13 is touched.
    @inlinable @inline(__always)
    public static func writeRewrite(_ rewrite: UnsafeMutableRawPointer, _ a: Int, to p: UnsafeMutableRawPointer) {
        let r = rewrite + a &* rewriteStride
        p.storeBytes(of: r.load(as: UInt64.self), as: UInt64.self)
        (p + 6).storeBytes(of: (r + 6).loadUnaligned(as: UInt64.self), as: UInt64.self)
    }

    /// Destination and source MAC of `a`'s rewrite.
    public func rewriteMACs(_ a: UInt32) -> (dst: UInt64, src: UInt64) {
        let p = rewrite + Int(a) &* AdjacencyTable.rewriteStride
        return (Ethernet.mac(at: p), Ethernet.mac(at: p + 6))
    }

    /// One row of `show adjacencies`.
    public struct Info: Sendable, Equatable {
        public var index: UInt32
        public var kind: AdjacencyKind
        public var interface: UInt32
        public var nextHop: UInt32
        public var mtu: UInt16
        public var dstMAC: UInt64
        public var srcMAC: UInt64
    }

    /// Every adjacency in use, ascending (control thread, under the barrier).
    public func all() -> [Info] {
        (0..<fresh).filter { inUse[$0] }.map { i in
            let m = rewriteMACs(UInt32(i))
            return Info(index: UInt32(i), kind: kindOf(UInt32(i)), interface: interface[i], nextHop: nextHop[i],
                        mtu: mtu[i], dstMAC: m.dst, srcMAC: m.src)
        }
    }
}
