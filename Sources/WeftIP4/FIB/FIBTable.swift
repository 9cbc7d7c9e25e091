/// One IPv4 forwarding table (a VRF): longest-prefix match from an address to
/// a `UInt32` adjacency index, DIR-24-8 like DPDK's rte_lpm / rte_fib.
///
/// **Layout.** A first-level table of 2^24 `UInt32` entries indexed by the top
/// 24 bits of the address (one memory access for every prefix up to /24), and a
/// pool of 256-entry second-level groups for the /24s that contain a longer
/// prefix. See `FIBLookup` for the entry encoding.
///
/// **Memory.** The first level is 64 MiB of address space per table and a group
/// is 1 KiB; both are anonymous `MAP_NORESERVE` mappings whose zero pages mean
/// "no route", so physical memory is taken only by the pages routes are written
/// to (4 KiB of first level covers a /14). An empty VRF costs a few KiB; a table
/// holding a default route or prefixes all over the address space costs the full
/// 64 MiB. The control side keeps, next to the lookup tables, one depth byte per
/// entry (16 MiB + 256 B per group, also lazily mapped) and the prefix store
/// (a dictionary per prefix length); workers never read them. Measured with
/// dpdk-test-fib's route mix: 100k routes take 73 MiB of lookup tables + 18 MiB
/// of depth bytes, 1M routes 161 + 40 MiB (docs/fib.md).
///
/// **Concurrency.** `add`, `delete`, `removeAll` run on the control thread
/// with the workers stopped at the barrier (`Worker.withBarrier`); there is no
/// locking inside. Lookups run on workers through a `FIBLookup` (two pointers
/// that stay valid for the table's lifetime).
///
/// **Updates.** Each entry's depth byte (prefix length + 1, 0 = no route) says
/// which prefix wrote it, so an add overwrites only entries whose current prefix
/// is not longer, and a delete rewrites only entries its prefix owned, with the
/// longest remaining covering prefix from the store. A /24 whose last longer
/// prefix goes away gives its group back to the pool.
public final class FIBTable {
    /// What a lookup returns when no prefix matches.
    public static let miss: UInt32 = .max
    /// Largest adjacency index a route may carry.
    public static let maxAdjacency: UInt32 = 0x7FFF_FFFE
    /// Second-level groups per table unless told otherwise (each 1 KiB + 256 B
    /// of address space, used only when taken).
    public static let defaultGroupCapacity = 1 << 17
    /// Upper bound on groups: group numbers shifted by 8 must fit 31 bits.
    public static let maxGroupCapacity = 1 << 23

    static let groupFlag: UInt32 = 0x8000_0000
    static let tbl24Count = 1 << 24

    @usableFromInline let tbl24: UnsafeMutablePointer<UInt32>
    @usableFromInline let tbl8: UnsafeMutablePointer<UInt32>
    private let depth24: UnsafeMutablePointer<UInt8>
    private let depth8: UnsafeMutablePointer<UInt8>
    /// Prefixes longer than /24 living in each group; the group is freed at 0.
    private let groupRoutes: UnsafeMutablePointer<UInt32>
    private let mappings: [ZeroMapping]

    public let groupCapacity: Int
    /// Groups never handed out yet start here (bump allocation keeps the touched
    /// part of the pool compact); freed groups are reused first.
    private var nextFreshGroup = 0
    private var freeGroups: [UInt32] = []
    public private(set) var groupsInUse = 0
    /// Adds refused because the group pool was empty.
    public private(set) var groupExhaustions: UInt64 = 0

    private var store = FIBPrefixStore()

    /// Number of prefixes in the table.
    public var count: Int { store.count }

    /// The read side for workers: valid as long as this table lives.
    @inlinable public var lookupView: FIBLookup { FIBLookup(tbl24: tbl24, tbl8: tbl8) }

    /// - Parameters:
    ///   - groupCapacity: second-level groups available for /25../32 (one per /24
    ///     that holds such a prefix).
    ///   - hugePages: back the first level with transparent huge pages
    ///     (`MADV_HUGEPAGE`): faster lookups over a large table, but memory is
    ///     then taken 2 MiB at a time.
    public init(groupCapacity: Int = FIBTable.defaultGroupCapacity, hugePages: Bool = false) throws {
        guard (1...FIBTable.maxGroupCapacity).contains(groupCapacity) else {
            throw FIBError.invalidGroupCapacity(groupCapacity)
        }
        self.groupCapacity = groupCapacity
        let m24 = try ZeroMapping(bytes: FIBTable.tbl24Count * 4, hugePages: hugePages)
        let m8 = try ZeroMapping(bytes: groupCapacity * 256 * 4, hugePages: hugePages)
        let d24 = try ZeroMapping(bytes: FIBTable.tbl24Count)
        let d8 = try ZeroMapping(bytes: groupCapacity * 256)
        let gr = try ZeroMapping(bytes: groupCapacity * 4)
        mappings = [m24, m8, d24, d8, gr]
        tbl24 = m24.base.bindMemory(to: UInt32.self, capacity: FIBTable.tbl24Count)
        tbl8 = m8.base.bindMemory(to: UInt32.self, capacity: groupCapacity * 256)
        depth24 = d24.base.bindMemory(to: UInt8.self, capacity: FIBTable.tbl24Count)
        depth8 = d8.base.bindMemory(to: UInt8.self, capacity: groupCapacity * 256)
        groupRoutes = gr.base.bindMemory(to: UInt32.self, capacity: groupCapacity)
    }

    deinit { for m in mappings { m.unmap() } }

    // MARK: lookups (worker side)

    /// Scalar lookup: adjacency of the longest matching prefix, or `FIBTable.miss`.
    @inlinable @inline(__always)
    public func lookup(_ address: UInt32) -> UInt32 { lookupView.lookup(address) }

    /// Bulk lookup of a vector of addresses (host byte order); see `FIBLookup`.
    @inlinable @inline(__always)
    public func lookup(_ addresses: UnsafePointer<UInt32>, into results: UnsafeMutablePointer<UInt32>, count: Int) {
        lookupView.lookup(addresses, into: results, count: count)
    }

    // MARK: changes (control thread, under the worker barrier)

    /// Adds `address/length -> adjacency`, or changes the adjacency of an
    /// existing prefix. Host bits of `address` are ignored. On error the table
    /// is unchanged.
    public func add(_ address: UInt32, length: Int, adjacency: UInt32) throws {
        let (prefix, value) = try FIBPrefixStore.validatedAdd(address, length: length, adjacency: adjacency)
        let depth = UInt8(length + 1)

        if length <= 24 {
            store.set(prefix, length, adjacency)
            let start = Int(prefix >> 8), end = start + (1 << (24 - length))
            for i in start..<end where depth24[i] <= depth {
                depth24[i] = depth
                let e = tbl24[i]
                if e & FIBTable.groupFlag != 0 {
                    // The /24's own cover changes: rewrite the group entries it owns.
                    let base = Int(e & ~FIBTable.groupFlag) << 8
                    for j in base..<(base + 256) where depth8[j] <= depth {
                        tbl8[j] = value
                        depth8[j] = depth
                    }
                } else {
                    tbl24[i] = value
                }
            }
            return
        }

        let i = Int(prefix >> 8)
        let group: Int
        if tbl24[i] & FIBTable.groupFlag != 0 {
            group = Int(tbl24[i] & ~FIBTable.groupFlag)
        } else {
            guard let g = allocateGroup() else {
                groupExhaustions &+= 1
                throw FIBError.groupsExhausted(capacity: groupCapacity)
            }
            // The new group starts as a copy of the /24's entry, then replaces it.
            let base = g << 8
            (tbl8 + base).update(repeating: tbl24[i], count: 256)
            (depth8 + base).update(repeating: depth24[i], count: 256)
            groupRoutes[g] = 0
            tbl24[i] = FIBTable.groupFlag | UInt32(g)
            group = g
        }
        if store.set(prefix, length, adjacency) == nil { groupRoutes[group] &+= 1 }
        let base = group << 8 | Int(prefix & 0xFF)
        for j in base..<(base + (1 << (32 - length))) where depth8[j] <= depth {
            tbl8[j] = value
            depth8[j] = depth
        }
    }

    /// Removes `address/length`; addresses it covered fall back to the longest
    /// remaining prefix that covers them (or to no route). Returns false when
    /// the prefix was not in the table.
    @discardableResult
    public func delete(_ address: UInt32, length: Int) -> Bool {
        guard (0...32).contains(length) else { return false }
        let prefix = address & FIBPrefixStore.mask(length)
        guard store.remove(prefix, length) != nil else { return false }
        let depth = UInt8(length + 1)
        let cover = store.cover(of: prefix, shorterThan: length)
        let coverValue = cover.map { $0.adjacency &+ 1 } ?? 0
        let coverDepth = cover.map { UInt8($0.length + 1) } ?? 0

        if length <= 24 {
            let start = Int(prefix >> 8), end = start + (1 << (24 - length))
            for i in start..<end where depth24[i] == depth {
                depth24[i] = coverDepth
                let e = tbl24[i]
                if e & FIBTable.groupFlag != 0 {
                    let base = Int(e & ~FIBTable.groupFlag) << 8
                    for j in base..<(base + 256) where depth8[j] == depth {
                        tbl8[j] = coverValue
                        depth8[j] = coverDepth
                    }
                } else {
                    tbl24[i] = coverValue
                }
            }
            return true
        }

        let i = Int(prefix >> 8)
        let e = tbl24[i]
        precondition(e & FIBTable.groupFlag != 0, "FIB: /\(length) prefix without a group")
        let group = Int(e & ~FIBTable.groupFlag)
        let base = group << 8 | Int(prefix & 0xFF)
        for j in base..<(base + (1 << (32 - length))) where depth8[j] == depth {
            tbl8[j] = coverValue
            depth8[j] = coverDepth
        }
        groupRoutes[group] &-= 1
        if groupRoutes[group] == 0 {
            // Only the /24's cover is left in the group: fold it back into tbl24.
            let first = group << 8
            tbl24[i] = tbl8[first]
            depth24[i] = depth8[first]
            freeGroup(group)
        }
        return true
    }


    /// Removes every prefix and gives all memory back to the kernel.
    public func removeAll() {
        for m in mappings { m.discard() }
        store.removeAll()
        freeGroups.removeAll()
        nextFreshGroup = 0
        groupsInUse = 0
    }

    // MARK: control-side queries

    /// The adjacency stored for exactly this prefix, or nil.
    public func adjacency(of address: UInt32, length: Int) -> UInt32? {
        guard (0...32).contains(length) else { return nil }
        return store.get(address & FIBPrefixStore.mask(length), length)
    }

    /// Longest match computed from the prefix store, not the lookup tables
    /// (slow; for `show fib` checks and tests).
    public func referenceLookup(_ address: UInt32) -> UInt32 {
        store.longestMatch(address)?.adjacency ?? FIBTable.miss
    }

    /// The longest stored prefix matching `address` and its adjacency, or nil
    /// (from the prefix store: a handful of dictionary probes, for `show fib ADDRESS`).
    public func longestMatch(_ address: UInt32) -> FIBRoute? { store.longestRoute(address) }

    /// Every prefix, shortest first, then by address.
    public func routes() -> [FIBRoute] { store.all() }

    /// Estimated heap bytes of the prefix store (the control side's dictionaries),
    /// computed like `FIBRangeTable.memory`'s.
    public var prefixStoreBytes: Int { store.estimatedHeapBytes }

    /// Prefix counts for lengths 0...32.
    public func prefixCountsByLength() -> [Int] { store.countsByLength() }

    /// Resident bytes of the lookup tables (first level + groups) and of the
    /// control-side depth shadows, from mincore.
    public func residentBytes() -> (lookup: Int, control: Int) {
        (mappings[0].residentBytes() + mappings[1].residentBytes(),
         mappings[2].residentBytes() + mappings[3].residentBytes() + mappings[4].residentBytes())
    }

    // MARK: group pool

    private func allocateGroup() -> Int? {
        let g: Int
        if let f = freeGroups.popLast() {
            g = Int(f)
        } else if nextFreshGroup < groupCapacity {
            g = nextFreshGroup
            nextFreshGroup += 1
        } else {
            return nil
        }
        groupsInUse += 1
        return g
    }

    private func freeGroup(_ g: Int) {
        freeGroups.append(UInt32(g))
        groupsInUse -= 1
    }
}
