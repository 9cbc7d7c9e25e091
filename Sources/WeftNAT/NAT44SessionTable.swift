import CShims
import WeftEngine
#if canImport(Glibc)
import Glibc
#endif

/// One NAT44 session, 32 bytes (two per cache line). Addresses host order.
///
/// The inside host `in` talks to `rem` (as it addresses it); on the wire,
/// outside, the flow is `out` (the outside address, `outPort`) <-> `peer`.
/// For ordinary masquerading `peer == rem`; for a hairpinned flow (an
/// inside host reaching a static mapping through the outside address) `rem`
/// is the outside address and mapped port and `peer` the mapped inside
/// host. For ICMP echo the ports are the echo identifiers (remote port 0).
@frozen
public struct NAT44Session {
    public var inAddr: UInt32
    public var remAddr: UInt32
    public var peerAddr: UInt32
    /// `Graph.nowSeconds` of the last packet (either direction).
    public var lastSeen: UInt32
    public var inPort: UInt16
    public var remPort: UInt16
    public var peerPort: UInt16
    public var outPort: UInt16
    /// IP protocol; 0 = free slot.
    public var proto: UInt8
    /// Timeout class (`NAT44SessionTable.class*`): selects the timeout and the LRU list.
    public var cls: UInt8
    /// TCP: `NAT44SessionTable.tcp*` bits.
    public var tcpState: UInt8
    public var flags: UInt8
}

/// The NAT44 endpoint-dependent session table: preallocated session records,
/// two open-addressing indexes, per-protocol outside port pools, LRU lists
/// per timeout class and the static-mapping lookup table. Everything is a
/// flat unsafe pointer; the worker's per-packet path allocates nothing.
///
/// - **Indexes.** `in2out` keys (protocol, inside address:port, remote
///   address:port); `out2in` keys (protocol, outside port, peer
///   address:port) (one outside address, so it is not part of the key).
///   Linear probing at load <= 1/2; a slot is `tag << 32 | session + 1`,
///   the tag being the upper 32 bits of the key's hash, whose low bits also
///   give the home bucket, so deletion (backward shift) never reads a record.
/// - **Ports (endpoint-dependent).** A new session's outside port (echo:
///   identifier) is the first port of the dynamic range, from a
///   pseudo-random start, for which (protocol, port, peer address:port) is
///   not in the out2in index: the same port serves many sessions to
///   different remote endpoints (so the table is not capped at 64K flows
///   per protocol), and the out2in key is unique by construction. At most
///   `maxPortTries` ports are tried (all of them for a range that small);
///   when none is free the flow is refused under `out-of-ports`. Ports of
///   static mappings are never chosen. A reference count per port gives
///   "ports in use".
/// - **Limit and LRU.** One LRU list per timeout class (UDP, TCP
///   established, TCP transitory, TCP reset, ICMP), ordered by last-seen
///   second (a session moves to the head at most once per second, so an
///   established flow costs no list update per packet). When the table is
///   full (or a protocol's ports are exhausted), the oldest session of a
///   class is reused only if it has expired; a live session is never
///   evicted: the new flow is refused and counted.
/// - **Expiry.** Lazily on lookup, and by `expire(now:budget:)` (worker
///   housekeeping), which pops expired sessions off the list tails: work
///   proportional to what expires, bounded by the budget.
///
/// Written by the worker (sessions) and by the control thread under the
/// worker barrier (configuration, static mappings, flush).
public final class NAT44SessionTable {
    public static let classUDP: UInt8 = 0
    public static let classTCPEstablished: UInt8 = 1
    public static let classTCPTransitory: UInt8 = 2
    public static let classTCPReset: UInt8 = 3
    public static let classICMP: UInt8 = 4
    static let classCount = 5
    static let classNames = ["udp", "tcp-established", "tcp-transitory", "tcp-reset", "icmp"]

    /// `flags`: created by out2in for a static mapping.
    public static let flagStatic: UInt8 = 1
    /// `flags`: hairpinned (rem != peer).
    public static let flagHairpin: UInt8 = 2
    /// `flags`: its outside port was chosen dynamically (counted in `portRefs`).
    public static let flagPortOwned: UInt8 = 4

    /// `tcpState` bits.
    static let tcpSeenIn: UInt8 = 1, tcpSeenOut: UInt8 = 2, tcpFin: UInt8 = 4, tcpRst: UInt8 = 8

    static let none = UInt32.max

    public let capacity: Int
    public let sessions: UnsafeMutablePointer<NAT44Session>
    let lruPrev: UnsafeMutablePointer<UInt32>
    let lruNext: UnsafeMutablePointer<UInt32>
    let lruHead: UnsafeMutablePointer<UInt32>
    let lruTail: UnsafeMutablePointer<UInt32>
    let classCounts: UnsafeMutablePointer<Int>
    let freeStack: UnsafeMutablePointer<UInt32>
    var freeTop: Int

    let in2out: UnsafeMutablePointer<UInt64>
    let out2in: UnsafeMutablePointer<UInt64>
    let indexMask: Int

    // Ports: 3 protocols x 65536.
    /// Sessions using each outside port (dynamic allocations only).
    let portRefs: UnsafeMutablePointer<UInt32>
    /// Ports with a reference, per protocol.
    let portsUsed: UnsafeMutablePointer<Int>
    /// Ports tried per allocation before the flow is refused.
    public static let maxPortTries = 1024
    var portSeed: UInt64 = 0x2545_F491_4F6C_DD1D
    /// Ports reserved by static mappings (never handed out dynamically).
    let portReserved: UnsafeMutablePointer<Bool>
    public private(set) var portLow: UInt16
    public private(set) var portHigh: UInt16

    /// Static mappings: [protocol index (TCP 0, UDP 1) << 16 | external port] ->
    /// 1 << 48 | internal address << 16 | internal port, 0 = none.
    public let staticMap: UnsafeMutablePointer<UInt64>
    public private(set) var staticCount = 0

    /// Idle timeout per class, seconds.
    public let timeouts: UnsafeMutablePointer<UInt32>

    /// The outside (uplink) address, host order; 0 = NAT off.
    public internal(set) var outsideAddress: UInt32 = 0

    public private(set) var count = 0
    public internal(set) var created: UInt64 = 0
    public internal(set) var expired: UInt64 = 0
    public internal(set) var refusedSessionLimit: UInt64 = 0
    public internal(set) var refusedOutOfPorts: UInt64 = 0

    public init(config: NAT44Config) {
        capacity = config.maxSessions
        let rawSessions = Self.allocateLarge(capacity * MemoryLayout<NAT44Session>.stride)
        sessions = rawSessions.bindMemory(to: NAT44Session.self, capacity: capacity)
        sessions.initialize(repeating: NAT44Session(inAddr: 0, remAddr: 0, peerAddr: 0, lastSeen: 0, inPort: 0, remPort: 0,
                                                    peerPort: 0, outPort: 0, proto: 0, cls: 0, tcpState: 0, flags: 0),
                            count: capacity)
        lruPrev = .allocate(capacity: capacity); lruPrev.initialize(repeating: Self.none, count: capacity)
        lruNext = .allocate(capacity: capacity); lruNext.initialize(repeating: Self.none, count: capacity)
        lruHead = .allocate(capacity: Self.classCount); lruHead.initialize(repeating: Self.none, count: Self.classCount)
        lruTail = .allocate(capacity: Self.classCount); lruTail.initialize(repeating: Self.none, count: Self.classCount)
        classCounts = .allocate(capacity: Self.classCount); classCounts.initialize(repeating: 0, count: Self.classCount)
        freeStack = .allocate(capacity: capacity)
        for i in 0..<capacity { freeStack[i] = UInt32(capacity - 1 - i) }
        freeTop = capacity
        var slots = 16
        while slots < 2 * capacity { slots <<= 1 }
        indexMask = slots - 1
        in2out = Self.allocateLarge(slots * 8).bindMemory(to: UInt64.self, capacity: slots)
        in2out.initialize(repeating: 0, count: slots)
        out2in = Self.allocateLarge(slots * 8).bindMemory(to: UInt64.self, capacity: slots)
        out2in.initialize(repeating: 0, count: slots)
        portRefs = .allocate(capacity: 3 << 16); portRefs.initialize(repeating: 0, count: 3 << 16)
        portsUsed = .allocate(capacity: 3); portsUsed.initialize(repeating: 0, count: 3)
        portReserved = .allocate(capacity: 3 << 16); portReserved.initialize(repeating: false, count: 3 << 16)
        staticMap = .allocate(capacity: 2 << 16); staticMap.initialize(repeating: 0, count: 2 << 16)
        timeouts = .allocate(capacity: Self.classCount); timeouts.initialize(repeating: 0, count: Self.classCount)
        portLow = config.portRange.lowerBound
        portHigh = config.portRange.upperBound
        setTimeouts(config)
    }

    deinit {
        free(UnsafeMutableRawPointer(sessions))
        lruPrev.deallocate(); lruNext.deallocate(); lruHead.deallocate(); lruTail.deallocate(); classCounts.deallocate()
        freeStack.deallocate(); free(UnsafeMutableRawPointer(in2out)); free(UnsafeMutableRawPointer(out2in))
        portRefs.deallocate(); portsUsed.deallocate()
        portReserved.deallocate(); staticMap.deallocate(); timeouts.deallocate()
    }

    /// Records and indexes: 2 MB aligned and, when large, backed by
    /// transparent huge pages (`MADV_HUGEPAGE`): with a million sessions the
    /// random per-packet accesses would otherwise miss the TLB as well as
    /// the cache. Released with `free`.
    static func allocateLarge(_ bytes: Int) -> UnsafeMutableRawPointer {
        let huge = 2 << 20
        var p: UnsafeMutableRawPointer?
        let size = max(bytes, 64)
        let alignment = size >= huge ? huge : 64
        guard posix_memalign(&p, alignment, size) == 0, let q = p else { fatalError("nat44: out of memory (\(size) bytes)") }
        if size >= 2 * huge { _ = madvise(q, size - size % huge, MADV_HUGEPAGE) }
        return q
    }

    /// Timeouts of 0 are taken as 1 s (a session must outlive its first packet).
    func setTimeouts(_ c: NAT44Config) {
        timeouts[Int(Self.classUDP)] = max(1, c.udpTimeout)
        timeouts[Int(Self.classTCPEstablished)] = max(1, c.tcpEstablishedTimeout)
        timeouts[Int(Self.classTCPTransitory)] = max(1, c.tcpTransitoryTimeout)
        timeouts[Int(Self.classTCPReset)] = max(1, c.tcpResetTimeout)
        timeouts[Int(Self.classICMP)] = max(1, c.icmpTimeout)
    }

    // MARK: keys

    /// Port pool / static map index of a protocol: TCP 0, UDP 1, ICMP 2.
    @inline(__always)
    static func protocolIndex(_ proto: UInt8) -> Int { proto == 6 ? 0 : proto == 17 ? 1 : 2 }

    @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var h = (a ^ 0x9E37_79B9_7F4A_7C15) &* 0xBF58_476D_1CE4_E5B9
        h ^= b
        h = (h ^ (h &>> 31)) &* 0x94D0_49BB_1331_11EB
        h ^= h &>> 29
        return h
    }

    @inline(__always)
    public static func hashIn2Out(_ proto: UInt8, _ src: UInt32, _ sport: UInt16, _ dst: UInt32, _ dport: UInt16) -> UInt64 {
        mix(UInt64(src) &<< 32 | UInt64(dst), UInt64(proto) &<< 32 | UInt64(sport) &<< 16 | UInt64(dport))
    }

    @inline(__always)
    public static func hashOut2In(_ proto: UInt8, _ outPort: UInt16, _ peer: UInt32, _ peerPort: UInt16) -> UInt64 {
        mix(UInt64(peer), UInt64(proto) &<< 32 | UInt64(outPort) &<< 16 | UInt64(peerPort))
    }

    @inline(__always)
    func home(_ h: UInt64) -> Int { Int(truncatingIfNeeded: h &>> 32) & indexMask }

    /// Prefetches the in2out bucket of hash `h`.
    @inline(__always)
    func prefetchIn2Out(_ h: UInt64) { weft_prefetch(in2out + home(h)) }

    @inline(__always)
    func prefetchOut2In(_ h: UInt64) { weft_prefetch(out2in + home(h)) }

    /// Prefetches the record the first slot of the bucket names, if any.
    @inline(__always)
    func prefetchSession(_ index: UnsafeMutablePointer<UInt64>, _ h: UInt64) {
        let e = index[home(h)]
        if e != 0 { weft_prefetch(sessions + (Int(truncatingIfNeeded: e & 0xFFFF_FFFF) &- 1)) }
    }

    // MARK: lookup

    /// Session of an inside-originated packet, or -1.
    @inline(__always)
    func findIn2Out(_ h: UInt64, _ proto: UInt8, _ src: UInt32, _ sport: UInt16, _ dst: UInt32, _ dport: UInt16) -> Int {
        let tag = h &>> 32
        var i = Int(truncatingIfNeeded: tag) & indexMask
        while true {
            let e = in2out[i]
            if e == 0 { return -1 }
            if e &>> 32 == tag {
                let s = Int(truncatingIfNeeded: e & 0xFFFF_FFFF) &- 1
                let r = sessions + s
                if r.pointee.inAddr == src && r.pointee.remAddr == dst && r.pointee.inPort == sport
                    && r.pointee.remPort == dport && r.pointee.proto == proto { return s }
            }
            i = (i &+ 1) & indexMask
        }
    }

    /// Session of an outside packet to (outside address, `outPort`) from `peer`, or -1.
    @inline(__always)
    func findOut2In(_ h: UInt64, _ proto: UInt8, _ outPort: UInt16, _ peer: UInt32, _ peerPort: UInt16) -> Int {
        let tag = h &>> 32
        var i = Int(truncatingIfNeeded: tag) & indexMask
        while true {
            let e = out2in[i]
            if e == 0 { return -1 }
            if e &>> 32 == tag {
                let s = Int(truncatingIfNeeded: e & 0xFFFF_FFFF) &- 1
                let r = sessions + s
                if r.pointee.peerAddr == peer && r.pointee.outPort == outPort && r.pointee.peerPort == peerPort
                    && r.pointee.proto == proto { return s }
            }
            i = (i &+ 1) & indexMask
        }
    }

    @inline(__always)
    func isExpired(_ s: Int, now: UInt32) -> Bool {
        let r = sessions + s
        return now &- r.pointee.lastSeen >= timeouts[Int(r.pointee.cls)]
    }

    /// Refreshes a session: last seen `now`, timeout class `cls`. The LRU
    /// lists change at most once per second per session.
    @inline(__always)
    func touch(_ s: Int, cls: UInt8, now: UInt32) {
        let r = sessions + s
        if _fastPath(r.pointee.lastSeen == now && r.pointee.cls == cls) { return }
        relink(s, cls: cls, now: now)
    }

    @inline(never)
    func relink(_ s: Int, cls: UInt8, now: UInt32) {
        unlink(s)
        sessions[s].lastSeen = now
        sessions[s].cls = cls
        linkHead(s)
    }

    // MARK: create / delete

    /// Result of `create` when no session could be made.
    static let refusedLimit = -1
    static let refusedPorts = -2

    /// Creates a session and indexes it both ways. `outPort` 0 allocates a
    /// dynamic port of `proto` (owned by the session). Returns the session,
    /// or `refusedLimit` / `refusedPorts` (counted).
    @inline(never)
    func create(proto: UInt8, inAddr: UInt32, inPort: UInt16, remAddr: UInt32, remPort: UInt16,
                peerAddr: UInt32, peerPort: UInt16, outPort: UInt16, flags: UInt8, cls: UInt8, now: UInt32) -> Int {
        if freeTop == 0 && !reclaimExpired(now: now, proto: 0) {
            refusedSessionLimit &+= 1
            return Self.refusedLimit
        }
        var port = outPort
        var f = flags
        if port == 0 {
            port = choosePort(proto, peerAddr, peerPort)
            if port == 0 && reclaimExpired(now: now, proto: proto) { port = choosePort(proto, peerAddr, peerPort) }
            if port == 0 {
                refusedOutOfPorts &+= 1
                return Self.refusedPorts
            }
            let k = (Self.protocolIndex(proto) &<< 16) &+ Int(port)
            if portRefs[k] == 0 { portsUsed[Self.protocolIndex(proto)] &+= 1 }
            portRefs[k] &+= 1
            f |= Self.flagPortOwned
        }
        freeTop &-= 1
        let s = Int(freeStack[freeTop])
        sessions[s] = NAT44Session(inAddr: inAddr, remAddr: remAddr, peerAddr: peerAddr, lastSeen: now, inPort: inPort,
                                   remPort: remPort, peerPort: peerPort, outPort: port, proto: proto, cls: cls,
                                   tcpState: 0, flags: f)
        insert(in2out, Self.hashIn2Out(proto, inAddr, inPort, remAddr, remPort), s)
        insert(out2in, Self.hashOut2In(proto, port, peerAddr, peerPort), s)
        linkHead(s)
        count &+= 1
        created &+= 1
        return s
    }

    /// Removes session `s` from both indexes, its LRU list and its port.
    func delete(_ s: Int) {
        let r = sessions[s]
        guard r.proto != 0 else { return }
        remove(in2out, Self.hashIn2Out(r.proto, r.inAddr, r.inPort, r.remAddr, r.remPort), s)
        remove(out2in, Self.hashOut2In(r.proto, r.outPort, r.peerAddr, r.peerPort), s)
        if r.flags & Self.flagPortOwned != 0 {
            let pi = Self.protocolIndex(r.proto)
            let k = (pi &<< 16) &+ Int(r.outPort)
            portRefs[k] &-= 1
            if portRefs[k] == 0 { portsUsed[pi] &-= 1 }
        }
        unlink(s)
        sessions[s].proto = 0
        freeStack[freeTop] = UInt32(s)
        freeTop &+= 1
        count &-= 1
    }

    /// Deletes the oldest expired session of any class (`proto` 0) or of
    /// `proto`'s classes; false when none has expired.
    func reclaimExpired(now: UInt32, proto: UInt8) -> Bool {
        for c in 0..<Self.classCount {
            if proto != 0 {
                let isTCP = c == Int(Self.classTCPEstablished) || c == Int(Self.classTCPTransitory) || c == Int(Self.classTCPReset)
                if proto == 6 ? !isTCP : proto == 17 ? c != Int(Self.classUDP) : c != Int(Self.classICMP) { continue }
            }
            let t = lruTail[c]
            if t != Self.none && isExpired(Int(t), now: now) {
                delete(Int(t))
                expired &+= 1
                return true
            }
        }
        return false
    }

    /// Housekeeping: deletes expired sessions from the tails of the LRU
    /// lists, at most `budget`. Returns the number deleted.
    func expire(now: UInt32, budget: Int) -> Int {
        var removed = 0
        for c in 0..<Self.classCount {
            while removed < budget {
                let t = lruTail[c]
                if t == Self.none || !isExpired(Int(t), now: now) { break }
                delete(Int(t))
                removed += 1
            }
        }
        expired &+= UInt64(removed)
        return removed
    }

    /// Deletes every session (outside address changed or NAT turned off).
    func flush() {
        for s in 0..<capacity where sessions[s].proto != 0 { delete(s) }
    }

    // MARK: index internals

    func insert(_ index: UnsafeMutablePointer<UInt64>, _ h: UInt64, _ s: Int) {
        var i = home(h)
        while index[i] != 0 { i = (i &+ 1) & indexMask }
        index[i] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(s &+ 1)
    }

    /// Removes session `s` (hashed `h`) with backward-shift deletion: later
    /// entries of the probe run move up, so lookups never need tombstones.
    func remove(_ index: UnsafeMutablePointer<UInt64>, _ h: UInt64, _ s: Int) {
        var i = home(h)
        let want = UInt64(s &+ 1)
        while index[i] != 0 && index[i] & 0xFFFF_FFFF != want { i = (i &+ 1) & indexMask }
        guard index[i] != 0 else { return }
        var hole = i
        var j = (i &+ 1) & indexMask
        while index[j] != 0 {
            let k = Int(truncatingIfNeeded: index[j] &>> 32) & indexMask
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            let inRange = hole < j ? (k > hole && k <= j) : (k > hole || k <= j)
            if !inRange {
                index[hole] = index[j]
                hole = j
            }
            j = (j &+ 1) & indexMask
        }
        index[hole] = 0
    }

    // MARK: LRU internals

    func linkHead(_ s: Int) {
        let c = Int(sessions[s].cls)
        let h = lruHead[c]
        lruPrev[s] = Self.none
        lruNext[s] = h
        if h != Self.none { lruPrev[Int(h)] = UInt32(s) } else { lruTail[c] = UInt32(s) }
        lruHead[c] = UInt32(s)
        classCounts[c] &+= 1
    }

    func unlink(_ s: Int) {
        let c = Int(sessions[s].cls)
        let p = lruPrev[s], n = lruNext[s]
        if p != Self.none { lruNext[Int(p)] = n } else { lruHead[c] = n }
        if n != Self.none { lruPrev[Int(n)] = p } else { lruTail[c] = p }
        lruPrev[s] = Self.none
        lruNext[s] = Self.none
        classCounts[c] &-= 1
    }

    // MARK: ports

    /// An outside port of the dynamic range not yet used towards
    /// `peer`:`peerPort` (and not a static mapping's), or 0.
    func choosePort(_ proto: UInt8, _ peer: UInt32, _ peerPort: UInt16) -> UInt16 {
        let pi = Self.protocolIndex(proto)
        let size = Int(portHigh) &- Int(portLow) &+ 1
        var x = portSeed
        x ^= x &<< 13; x ^= x &>> 7; x ^= x &<< 17
        portSeed = x
        var p = Int(x % UInt64(size))
        var tries = min(size, Self.maxPortTries)
        while tries > 0 {
            let port = UInt16(truncatingIfNeeded: Int(portLow) &+ p)
            if !portReserved[(pi &<< 16) &+ Int(port)]
                && findOut2In(Self.hashOut2In(proto, port, peer, peerPort), proto, port, peer, peerPort) < 0 {
                return port
            }
            p &+= 1
            if p == size { p = 0 }
            tries &-= 1
        }
        return 0
    }

    /// Reserves `port` of protocol index `pi` for a static mapping: never
    /// chosen for a new dynamic session (existing ones keep it).
    func reservePort(_ pi: Int, _ port: UInt16) { portReserved[(pi << 16) + Int(port)] = true }

    func unreservePort(_ pi: Int, _ port: UInt16) { portReserved[(pi << 16) + Int(port)] = false }

    func setStatic(_ pi: Int, _ port: UInt16, _ value: UInt64) {
        let k = (pi << 16) + Int(port)
        if staticMap[k] == 0 && value != 0 { staticCount += 1 }
        if staticMap[k] != 0 && value == 0 { staticCount -= 1 }
        staticMap[k] = value
    }

    func portsInUse(_ pi: Int) -> Int { portsUsed[pi] }
}
