/// The control side's record of every prefix in one `FIBTable`: one dictionary
/// per prefix length (network address -> adjacency) and a bitmask of the lengths
/// that hold anything. The lookup tables only keep the winning adjacency per
/// address range, so this is what a delete consults to find what the range
/// falls back to (the longest remaining prefix that covers it), and what
/// `show fib` lists. Never touched by workers.
struct FIBPrefixStore {
    private var byLength: [[UInt32: UInt32]] = Array(repeating: [:], count: 33)
    /// Bit `l` set: at least one prefix of length `l`.
    private var lengths: UInt64 = 0
    private(set) var count = 0

    @inline(__always) static func mask(_ length: Int) -> UInt32 {
        length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length)
    }

    /// An add's arguments checked the same way for every table layout: the
    /// prefix without host bits and the stored value (adjacency + 1; 0 is "no route").
    static func validatedAdd(_ address: UInt32, length: Int, adjacency: UInt32) throws -> (prefix: UInt32, value: UInt32) {
        guard (0...32).contains(length) else { throw FIBError.invalidPrefixLength(length) }
        guard adjacency <= FIBTable.maxAdjacency else { throw FIBError.adjacencyOutOfRange(adjacency) }
        return (address & mask(length), adjacency &+ 1)
    }

    func get(_ prefix: UInt32, _ length: Int) -> UInt32? { byLength[length][prefix] }

    /// Sets (or replaces) a prefix; returns the adjacency it had, if any.
    @discardableResult
    mutating func set(_ prefix: UInt32, _ length: Int, _ adjacency: UInt32) -> UInt32? {
        let old = byLength[length].updateValue(adjacency, forKey: prefix)
        if old == nil {
            count += 1
            lengths |= 1 << UInt64(length)
        }
        return old
    }

    /// Removes a prefix; returns its adjacency, or nil when it was not there.
    mutating func remove(_ prefix: UInt32, _ length: Int) -> UInt32? {
        guard let old = byLength[length].removeValue(forKey: prefix) else { return nil }
        count -= 1
        if byLength[length].isEmpty { lengths &= ~(1 << UInt64(length)) }
        return old
    }

    /// The longest stored prefix strictly shorter than `length` that covers
    /// `prefix/length`: (adjacency, its length), or nil. Only lengths that hold
    /// prefixes are probed (usually a handful).
    func cover(of prefix: UInt32, shorterThan length: Int) -> (adjacency: UInt32, length: Int)? {
        guard length > 0 else { return nil }
        var candidates = lengths & ((1 << UInt64(length)) - 1)
        while candidates != 0 {
            let l = 63 - candidates.leadingZeroBitCount
            if let adj = byLength[l][prefix & FIBPrefixStore.mask(l)] { return (adj, l) }
            candidates &= ~(1 << UInt64(l))
        }
        return nil
    }

    /// The longest stored prefix matching `address` (slow reference path, O(lengths)).
    func longestMatch(_ address: UInt32) -> (adjacency: UInt32, length: Int)? {
        var candidates = lengths
        while candidates != 0 {
            let l = 63 - candidates.leadingZeroBitCount
            if let adj = byLength[l][address & FIBPrefixStore.mask(l)] { return (adj, l) }
            candidates &= ~(1 << UInt64(l))
        }
        return nil
    }

    /// The longest stored prefix matching `address`, as a route.
    func longestRoute(_ address: UInt32) -> FIBRoute? {
        guard let m = longestMatch(address) else { return nil }
        return FIBRoute(prefix: IPv4Prefix(uncheckedAddress: address & FIBPrefixStore.mask(m.length), length: m.length),
                        adjacency: m.adjacency)
    }

    /// Every prefix, shortest first, then by address.
    func all() -> [FIBRoute] {
        var out: [FIBRoute] = []
        out.reserveCapacity(count)
        for l in 0...32 where lengths & (1 << UInt64(l)) != 0 {
            for (p, a) in byLength[l].sorted(by: { $0.key < $1.key }) {
                out.append(FIBRoute(prefix: IPv4Prefix(uncheckedAddress: p, length: l), adjacency: a))
            }
        }
        return out
    }

    /// Number of prefixes per length 0...32.
    func countsByLength() -> [Int] { byLength.map(\.count) }

    /// Heap bytes of the dictionaries, estimated from their capacities: Swift's
    /// native dictionary keeps a power-of-two bucket array at most 3/4 full,
    /// 4 + 4 bytes per bucket here plus one occupancy bit, and a ~64-byte header.
    var estimatedHeapBytes: Int {
        byLength.reduce(33 * 8) { total, d in
            guard d.capacity > 0 else { return total }
            let buckets = FIBPrefixStore.bucketCount(forCapacity: d.capacity)
            return total + 64 + buckets * 8 + buckets / 8
        }
    }

    /// Buckets of a native dictionary that can hold `capacity` entries.
    static func bucketCount(forCapacity capacity: Int) -> Int {
        var buckets = 1
        while buckets * 3 / 4 < capacity { buckets <<= 1 }
        return buckets
    }

    mutating func removeAll() {
        byLength = Array(repeating: [:], count: 33)
        lengths = 0
        count = 0
    }
}
