import WeftEngine

/// IPv4 neighbours (the ARP cache): (interface, address) -> MAC, state,
/// last-seen time, and the adjacency that routes through this neighbour use.
/// Open addressing with linear probing in one flat array; deletion shifts
/// later entries back (no tombstones), like `MacTable`.
///
/// The table itself only stores entries; `IP4Feature` keeps entries and their
/// adjacencies and host routes consistent (learning, resolution, ageing).
/// Written by the worker (arp-input learning, ip4-arp, ageing) and by the
/// control thread under the barrier.
public final class NeighbourTable {
    public enum State: UInt8, Sendable, CustomStringConvertible {
        /// Asked for (or wanted by a route), no answer yet: its adjacency is `arp`.
        case incomplete = 0
        /// MAC known: its adjacency is `rewrite`.
        case reachable = 1
        /// `maxProbes` requests went unanswered; asked again after `failedRetrySeconds`.
        case failed = 2
        public var description: String {
            switch self {
            case .incomplete: return "incomplete"
            case .reachable: return "reachable"
            case .failed: return "failed"
            }
        }
    }

    @frozen public struct Entry {
        /// interface << 32 | address; 0 marks an empty slot (interface 0 is never used).
        public var key: UInt64
        public var mac: UInt64
        /// Seconds (`Graph.nowSeconds`) of the last ARP packet that confirmed the MAC.
        public var lastSeen: UInt32
        /// Seconds of the last ARP request sent for this neighbour.
        public var lastRequest: UInt32
        public var adjacency: UInt32
        /// Routes whose next hop this neighbour is (they keep it from ageing out).
        public var routeRefs: UInt32
        public var state: UInt8
        /// Configured, never aged and never changed by ARP.
        public var isStatic: Bool
        /// Requests sent since the last answer.
        public var probes: UInt8
        /// A /32 to `adjacency` was added to the interface's FIB table for it.
        public var hostRoute: Bool

        @inlinable public init(key: UInt64) {
            self.key = key; mac = 0; lastSeen = 0; lastRequest = 0; adjacency = 0; routeRefs = 0
            state = State.incomplete.rawValue; isStatic = false; probes = 0; hostRoute = false
        }

        @inlinable public var interface: UInt32 { UInt32(truncatingIfNeeded: key &>> 32) }
        @inlinable public var address: UInt32 { UInt32(truncatingIfNeeded: key) }
    }

    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let shift: UInt64
    public let entries: UnsafeMutablePointer<Entry>
    public private(set) var count = 0
    @usableFromInline let maxCount: Int
    var ageCursor = 0

    /// `capacity` is rounded up to a power of two; at most 7/8 of it is used.
    public init(capacity: Int = 1 << 14) {
        var c = 16
        while c < capacity { c <<= 1 }
        self.capacity = c
        mask = c - 1
        shift = UInt64(64 - c.trailingZeroBitCount)
        maxCount = c - c / 8
        entries = .allocate(capacity: c)
        entries.initialize(repeating: Entry(key: 0), count: c)
    }

    deinit { entries.deallocate() }

    @inlinable @inline(__always)
    public static func key(interface: UInt32, address: UInt32) -> UInt64 { UInt64(interface) &<< 32 | UInt64(address) }

    @inlinable @inline(__always)
    func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> shift) }

    /// Slot of `key`, or -1.
    @inlinable @inline(__always)
    public func find(_ key: UInt64) -> Int {
        var i = home(key)
        while true {
            let k = entries[i].key
            if k == key { return i }
            if k == 0 { return -1 }
            i = (i &+ 1) & mask
        }
    }

    /// Slot of a new entry for `key` (which must not be present), or -1 when full.
    func insert(_ key: UInt64) -> Int {
        if count >= maxCount { return -1 }
        var i = home(key)
        while entries[i].key != 0 { i = (i &+ 1) & mask }
        entries[i] = Entry(key: key)
        count &+= 1
        return i
    }

    /// Removes the entry at slot `i`, shifting back the entries of its probe run.
    func remove(slot i: Int) {
        count &-= 1
        var hole = i
        var j = (i &+ 1) & mask
        while entries[j].key != 0 {
            let h = home(entries[j].key)
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !stays {
                entries[hole] = entries[j]
                hole = j
            }
            j = (j &+ 1) & mask
        }
        entries[hole] = Entry(key: 0)
    }

    /// One row of `show neighbors`.
    public struct Info: Sendable, Equatable {
        public var interface: UInt32
        public var address: UInt32
        public var mac: UInt64
        public var state: State
        public var isStatic: Bool
        public var lastSeen: UInt32
        public var adjacency: UInt32
        public var routeRefs: UInt32
    }

    /// Every entry, by interface then address (control thread, under the barrier).
    public func all() -> [Info] {
        var out: [Info] = []
        for i in 0..<capacity where entries[i].key != 0 {
            let e = entries[i]
            out.append(Info(interface: e.interface, address: e.address, mac: e.mac, state: State(rawValue: e.state) ?? .incomplete,
                            isStatic: e.isStatic, lastSeen: e.lastSeen, adjacency: e.adjacency, routeRefs: e.routeRefs))
        }
        return out.sorted { ($0.interface, $0.address) < ($1.interface, $1.address) }
    }
}
