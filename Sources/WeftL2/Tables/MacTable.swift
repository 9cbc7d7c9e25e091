import WeftEngine

/// The L2 forwarding table: (bridge domain, MAC) -> interface, with a last-seen
/// time for ageing. Open addressing with linear probing in one flat array of
/// 16-byte entries (four per cache line); deletion shifts later entries back
/// (no tombstones), so lookups never slow down as MACs come and go.
///
/// **Static entries** (`addStatic`) are configured, not learned: learning
/// never moves them (an attempt is reported as `.staticEntry`, the frame is
/// still forwarded), ageing never removes them, and they do not count
/// against the domain's learn limit. They are marked by `lastSeen ==
/// MacTable.staticStamp`, so the entry stays 16 bytes and the per-packet
/// paths test nothing new. Flushing an interface or a domain removes them too.
///
/// Written by the worker (learning, ageing); read by the control thread only
/// under the worker barrier.
public final class MacTable {
    @frozen public struct Entry {
        /// (bridgeDomain << 48) | mac; 0 marks an empty slot (domain 0 is never used).
        public var key: UInt64
        public var interface: UInt32
        public var lastSeen: UInt32
        @inlinable public init(key: UInt64, interface: UInt32, lastSeen: UInt32) {
            self.key = key; self.interface = interface; self.lastSeen = lastSeen
        }
    }

    /// `.staticEntry`: the MAC is a static entry on another interface; not moved.
    public enum LearnResult { case refreshed, learned, moved, limitReached, tableFull, staticEntry }

    /// `lastSeen` of a static entry (a time the coarse clock never reaches).
    public static let staticStamp = UInt32.max

    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let shift: UInt64
    @usableFromInline let entries: UnsafeMutablePointer<Entry>
    @usableFromInline internal(set) var _count = 0
    public var count: Int { _count }
    /// Inserts refused at this fill level keep probe chains short.
    @usableFromInline let maxCount: Int
    @usableFromInline let domains: BridgeDomainTable
    private var ageCursor = 0

    /// `capacity` is rounded up to a power of two; at most 7/8 of it is used.
    public init(capacity: Int, domains: BridgeDomainTable) {
        var c = 16
        while c < capacity { c <<= 1 }
        self.capacity = c
        mask = c - 1
        shift = UInt64(64 - c.trailingZeroBitCount)
        maxCount = c - c / 8
        entries = .allocate(capacity: c)
        entries.initialize(repeating: Entry(key: 0, interface: 0, lastSeen: 0), count: c)
        self.domains = domains
    }

    deinit { entries.deallocate() }

    @inlinable @inline(__always)
    public static func key(domain: UInt32, mac: UInt64) -> UInt64 { (UInt64(domain) &<< 48) | mac }

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

    /// Interface for (domain, mac), or nil.
    @inlinable @inline(__always)
    public func lookup(domain: UInt32, mac: UInt64) -> UInt32? {
        let i = find(MacTable.key(domain: domain, mac: mac))
        return i < 0 ? nil : entries[i].interface
    }

    /// Learns or refreshes `mac` on `interface`. The entry's cache line is
    /// written only when something changed (a new second, a move).
    @inlinable @inline(__always)
    public func learn(domain: UInt32, mac: UInt64, interface: UInt32, now: UInt32) -> LearnResult {
        let key = MacTable.key(domain: domain, mac: mac)
        var i = home(key)
        while true {
            let k = entries[i].key
            if k == key {
                if _fastPath(entries[i].interface == interface) {
                    // A static entry's stamp is never `now`: the test below runs once a second at most.
                    if entries[i].lastSeen != now && entries[i].lastSeen != MacTable.staticStamp { entries[i].lastSeen = now }
                    return .refreshed
                }
                if _slowPath(entries[i].lastSeen == MacTable.staticStamp) { return .staticEntry }
                entries[i].interface = interface
                entries[i].lastSeen = now
                return .moved
            }
            if k == 0 { break }
            i = (i &+ 1) & mask
        }
        if domains.learned[Int(domain)] >= domains.learnLimit[Int(domain)] { return .limitReached }
        if _count >= maxCount { return .tableFull }
        entries[i] = Entry(key: key, interface: interface, lastSeen: now)
        _count &+= 1
        domains.learned[Int(domain)] &+= 1
        return .learned
    }

    /// Removes the entry at slot `i`, shifting back the entries of its probe run.
    func remove(slot i: Int) {
        let domain = Int(entries[i].key >> 48)
        if entries[i].lastSeen != MacTable.staticStamp { domains.learned[domain] &-= 1 }
        _count -= 1
        var hole = i
        var j = (i + 1) & mask
        while entries[j].key != 0 {
            let h = home(entries[j].key)
            // Move j into the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if !stays {
                entries[hole] = entries[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        entries[hole].key = 0
    }

    public func remove(domain: UInt32, mac: UInt64) -> Bool {
        let i = find(MacTable.key(domain: domain, mac: mac))
        if i < 0 { return false }
        remove(slot: i)
        return true
    }

    // MARK: static entries (control thread, under the barrier)

    /// Makes `mac` a static entry on `interface` in `domain` (replacing a
    /// learned or static entry for the same MAC). False when the table is full.
    @discardableResult
    public func addStatic(domain: UInt32, mac: UInt64, interface: UInt32) -> Bool {
        let key = MacTable.key(domain: domain, mac: mac & 0xFFFF_FFFF_FFFF)
        var i = home(key)
        while true {
            let k = entries[i].key
            if k == key {
                if entries[i].lastSeen != MacTable.staticStamp { domains.learned[Int(domain)] &-= 1 }
                entries[i].interface = interface
                entries[i].lastSeen = MacTable.staticStamp
                return true
            }
            if k == 0 { break }
            i = (i &+ 1) & mask
        }
        if _count >= maxCount { return false }
        entries[i] = Entry(key: key, interface: interface, lastSeen: MacTable.staticStamp)
        _count &+= 1
        return true
    }

    /// Removes the static entry for `mac` in `domain`; false when there is none
    /// (a learned entry for the MAC is left alone).
    @discardableResult
    public func removeStatic(domain: UInt32, mac: UInt64) -> Bool {
        let i = find(MacTable.key(domain: domain, mac: mac & 0xFFFF_FFFF_FFFF))
        guard i >= 0, entries[i].lastSeen == MacTable.staticStamp else { return false }
        remove(slot: i)
        return true
    }

    /// True when (domain, mac) is a static entry.
    public func isStatic(domain: UInt32, mac: UInt64) -> Bool {
        let i = find(MacTable.key(domain: domain, mac: mac & 0xFFFF_FFFF_FFFF))
        return i >= 0 && entries[i].lastSeen == MacTable.staticStamp
    }

    /// Ages out up to `budget` slots' worth of the table, resuming where the
    /// last call stopped. Returns the number of entries removed.
    @discardableResult
    public func age(now: UInt32, budget: Int) -> Int {
        var removed = 0
        var scanned = 0
        while scanned < budget {
            let e = entries[ageCursor]
            if e.key != 0 && e.lastSeen != MacTable.staticStamp {
                let domain = Int(e.key >> 48)
                let maxAge = domains.macAgeSeconds[domain]
                if maxAge > 0 && now &- e.lastSeen >= maxAge {
                    remove(slot: ageCursor)
                    removed += 1
                    scanned += 1
                    continue       // an entry may have shifted into this slot
                }
            }
            ageCursor = (ageCursor + 1) & mask
            scanned += 1
        }
        return removed
    }

    /// Removes every entry pointing at `interface`, static ones included (interface deleted).
    public func flush(interface: UInt32) {
        var i = 0
        while i < capacity {
            if entries[i].key != 0 && entries[i].interface == interface { remove(slot: i) } else { i += 1 }
        }
    }

    /// Removes every entry of `domain`.
    public func flush(domain: UInt32) {
        var i = 0
        while i < capacity {
            if entries[i].key != 0 && UInt32(entries[i].key >> 48) == domain { remove(slot: i) } else { i += 1 }
        }
    }

    /// (mac, interface, lastSeen) of one domain, for `show bridge-domain detail`;
    /// static entries have `lastSeen == MacTable.staticStamp`.
    public func entries(domain: UInt32) -> [(mac: UInt64, interface: UInt32, lastSeen: UInt32)] {
        var out: [(UInt64, UInt32, UInt32)] = []
        for i in 0..<capacity where entries[i].key != 0 && UInt32(entries[i].key >> 48) == domain {
            out.append((entries[i].key & 0xFFFF_FFFF_FFFF, entries[i].interface, entries[i].lastSeen))
        }
        return out
    }
}
