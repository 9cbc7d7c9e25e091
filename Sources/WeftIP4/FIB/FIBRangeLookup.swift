import CShims

/// The read side of one `FIBRangeTable` (DXR): two raw pointers and the chunk
/// geometry, copied into a node's locals once per vector. Lookups touch nothing
/// else: no class, no retain, no allocation.
///
/// **Direct table** (`direct`, 2^K `UInt32`, indexed by the top K bits):
/// - bit 31 clear: the whole chunk resolves to one entry, `0` = no route,
///   otherwise adjacency + 1 (so the result is `entry - 1` without a branch);
/// - bit 31 set: the chunk is split into ranges; bits 0...28 are the word
///   offset of its block in `ranges`, bit 30 says the block's next hops are
///   32-bit ("long") rather than 16-bit ("short"), bit 29 that the block is a
///   **split block** (below) rather than a range block.
///
/// **Range block** (n >= 2 ranges, sorted by start; range 0 starts at offset 0):
/// - `UInt16` [0] = n - 1 (range 0's start is always 0, so its slot holds the count);
/// - `UInt16` [1..<n] = start of ranges 1..<n (the address's low 32-K bits);
/// - short: `UInt16` [n..<2n] = adjacency + 1 of each range (n words in all);
/// - long: from word ceil(n/2), `UInt32` adjacency + 1 of each range (ceil(n/2) + n words).
///
/// Starts and next hops are kept apart (not interleaved) so that the search
/// reads 2-byte keys (32 per cache line) and only the winner's next hop: 4
/// bytes per range when every next hop of the chunk is below 0xFFFF, 6 when
/// not, instead of DXR's 4 or 8.
///
/// **Split block** (a crowded chunk: more than `FIBRangeTable.splitThreshold`
/// ranges, e.g. side-by-side /24s with different next hops, or a /32 per
/// pod): word 0 = the chunk's range count (for `shape`), then one `UInt32`
/// sub-entry per /24 of the chunk, then the sub-blocks. A sub-entry is, like
/// a direct entry, either a resolved /24 (bit 31 clear) or bit 31 + the word
/// offset of its sub-block from the split block's start (bits 0...28), bit 30
/// long, bit 29 **dense**: 256 next hops indexed by the last octet (for more
/// than 16 ranges in the /24). Otherwise the sub-block is a range block over
/// the /24 (up to 16 ranges: the SWAR count). So a lookup never searches more
/// than 16 ranges, at the price of a third dependent load in crowded chunks;
/// offsets are relative, so `compact()` can move the whole block.
@frozen
public struct FIBRangeLookup {
    public let direct: UnsafePointer<UInt32>
    public let ranges: UnsafeRawPointer
    /// 32 - K: the shift that leaves the chunk number.
    public let chunkShift: UInt32
    /// 2^(32-K) - 1: the address's offset inside its chunk.
    public let offsetMask: UInt32
    /// Starts fit in 15 bits (K >= 17): blocks of up to 16 ranges are
    /// searched with SWAR (`countStarts`).
    public let swar: Bool

    @usableFromInline static let rangedFlag: UInt32 = 0x8000_0000
    @usableFromInline static let longFlag: UInt32 = 0x4000_0000
    /// On a direct entry: the block is a split block.
    @usableFromInline static let splitFlag: UInt32 = 0x2000_0000
    /// On a sub-entry: the sub-block is 256 next hops.
    @usableFromInline static let denseFlag: UInt32 = 0x2000_0000
    @usableFromInline static let blockMask: UInt32 = 0x1FFF_FFFF

    @inlinable @inline(__always)
    public init(direct: UnsafePointer<UInt32>, ranges: UnsafeRawPointer, directBits: Int) {
        self.direct = direct
        self.ranges = ranges
        chunkShift = UInt32(32 - directBits)
        offsetMask = (1 << UInt32(32 - directBits)) &- 1
        swar = directBits >= 17
    }

    /// Adjacency of the longest prefix matching `address` (host byte order), or
    /// `FIBTable.miss`. The scalar path, and the oracle of the bulk lookup.
    @inlinable @inline(__always)
    public func lookup(_ address: UInt32) -> UInt32 {
        let e = direct[Int(truncatingIfNeeded: address &>> chunkShift)]
        if e & FIBRangeLookup.rangedFlag == 0 { return e &- 1 }
        return search(e, address & offsetMask)
    }

    /// Finds, in chunk entry `e`'s block, the last range starting at or below
    /// `offset`, and returns its next hop: in a split block through the /24's
    /// sub-entry (resolved, dense, or a range block of up to 16). A range
    /// block (at most 32 ranges: more are split) is searched branch-free in
    /// one of two shapes; which one runs depends on the block's range count,
    /// and at K = 18 nearly every block takes the first (docs/fib.md):
    /// - up to 16 ranges (K >= 17): a SWAR count of the starts <= `offset`;
    /// - up to 32: five binary-search steps over a virtual array of 32 (slots
    ///   past the last read as the last).
    /// A search whose step count follows the block size mispredicts its loop
    /// exit on most lookups: measured at 1M routes, that alone cost 55 against
    /// 32 cycles per lookup with scattered addresses.
    @inlinable @inline(__always)
    func search(_ e: UInt32, _ offset: UInt32) -> UInt32 {
        let block = ranges + Int(truncatingIfNeeded: e & FIBRangeLookup.blockMask) &<< 2
        if e & FIBRangeLookup.splitFlag == 0 {
            return FIBRangeLookup.searchBlock(block, long: e & FIBRangeLookup.longFlag != 0, offset, swar: swar)
        }
        let sub = block.load(fromByteOffset: (1 &+ Int(truncatingIfNeeded: offset &>> 8)) &<< 2, as: UInt32.self)
        if sub & FIBRangeLookup.rangedFlag == 0 { return sub &- 1 }
        let subBlock = block + Int(truncatingIfNeeded: sub & FIBRangeLookup.blockMask) &<< 2
        let octet = Int(truncatingIfNeeded: offset & 0xFF)
        if sub & FIBRangeLookup.denseFlag != 0 {
            if sub & FIBRangeLookup.longFlag != 0 { return subBlock.load(fromByteOffset: octet &<< 2, as: UInt32.self) &- 1 }
            return UInt32(truncatingIfNeeded: subBlock.load(fromByteOffset: octet &<< 1, as: UInt16.self)) &- 1
        }
        return FIBRangeLookup.searchBlock(subBlock, long: sub & FIBRangeLookup.longFlag != 0, offset & 0xFF, swar: true)
    }

    /// The next hop of the range holding `offset` in a range block.
    @inlinable @inline(__always)
    static func searchBlock(_ block: UnsafeRawPointer, long: Bool, _ offset: UInt32, swar: Bool) -> UInt32 {
        let last = Int(truncatingIfNeeded: block.load(as: UInt16.self))
        var low: Int
        if last < 16 && swar {
            low = FIBRangeLookup.countStarts(block, through: last, atOrBelow: offset)
        } else {
            // last < 32: a chunk of more ranges is split (FIBRangeTable.splitThreshold),
            // and a sub-block holds at most 16.
            low = 0
            var half = 16
            while half > 0 {
                let i = low &+ half
                let start = block.load(fromByteOffset: (i < last ? i : last) &<< 1, as: UInt16.self)
                low = UInt32(truncatingIfNeeded: start) <= offset ? i : low
                half &>>= 1
            }
            low = low < last ? low : last
        }
        if long {
            let hops = ((last &+ 2) &>> 1) &<< 2
            return block.load(fromByteOffset: hops &+ low &<< 2, as: UInt32.self) &- 1
        }
        let hop = block.load(fromByteOffset: (last &+ 1 &+ low) &<< 1, as: UInt16.self)
        return UInt32(truncatingIfNeeded: hop) &- 1
    }

    /// How many of the starts in slots 1...`last` (`last` < 16) are <= `offset`
    /// (< 2^15), i.e. the index of the range holding `offset`. Reads the
    /// block's first 32 bytes as four words of four 16-bit lanes, whatever
    /// follows the starts (the pool keeps 32 bytes of slack past its end). In
    /// a lane, the high bit of `(x | 0x8000) - y` is set iff y <= x (x, y <
    /// 2^15, so no borrow crosses lanes); one such test keeps the starts at
    /// or below the offset, a second keeps the slots 1...last (slot 0 holds
    /// the count: its lane index 0x7FFF is never <= last).
    @inlinable @inline(__always)
    static func countStarts(_ block: UnsafeRawPointer, through last: Int, atOrBelow offset: UInt32) -> Int {
        let high: UInt64 = 0x8000_8000_8000_8000
        let lanes: UInt64 = 0x0001_0001_0001_0001
        let o = UInt64(truncatingIfNeeded: offset) &* lanes | high
        let l = UInt64(truncatingIfNeeded: last) &* lanes | high
        // Blocks are 4-byte aligned words: unaligned 64-bit loads (a plain mov on x86-64 and arm64).
        let w0 = block.loadUnaligned(as: UInt64.self), w1 = block.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let w2 = block.loadUnaligned(fromByteOffset: 16, as: UInt64.self), w3 = block.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        let m0 = (o &- w0) & (l &- 0x0003_0002_0001_7FFF) & high
        let m1 = (o &- w1) & (l &- 0x0007_0006_0005_0004) & high
        let m2 = (o &- w2) & (l &- 0x000B_000A_0009_0008) & high
        let m3 = (o &- w3) & (l &- 0x000F_000E_000D_000C) & high
        // Each lane now holds 0...4 ones (after the shift); the multiply sums the lanes into the top one.
        let perLane = (m0 &>> 15) &+ (m1 &>> 15) &+ (m2 &>> 15) &+ (m3 &>> 15)
        return Int(truncatingIfNeeded: (perLane &* lanes) &>> 48)
    }

    /// How far ahead (in addresses) the bulk lookup prefetches direct entries.
    public static let directPrefetchDistance = 16
    /// How far ahead it reads the (by then prefetched) direct entry and
    /// prefetches the chunk's range block (its first three cache lines: a
    /// long block of 32 ranges is 192 bytes), or, in a split block, the
    /// address's sub-entry. The sub-block behind a sub-entry is not
    /// prefetched: a third pipeline stage would cost every lookup, and crowded
    /// chunks are rare in large tables and cache-resident in small ones.
    public static let rangePrefetchDistance = 8

    @inlinable @inline(__always)
    func prefetchDirect(_ address: UInt32) {
        weft_prefetch(direct + Int(truncatingIfNeeded: address &>> chunkShift))
    }

    @inlinable @inline(__always)
    func prefetchRanges(_ address: UInt32) {
        let e = direct[Int(truncatingIfNeeded: address &>> chunkShift)]
        if e & FIBRangeLookup.rangedFlag != 0 {
            let block = ranges + Int(truncatingIfNeeded: e & FIBRangeLookup.blockMask) &<< 2
            if e & FIBRangeLookup.splitFlag != 0 {
                weft_prefetch(block + (1 &+ Int(truncatingIfNeeded: (address & offsetMask) &>> 8)) &<< 2)
                return
            }
            weft_prefetch(block)
            weft_prefetch(block + 64)
            weft_prefetch(block + 128)
        }
    }

    /// Looks up `count` addresses (host byte order) and writes one adjacency (or
    /// `FIBTable.miss`) per address into `results`. A two-stage software
    /// pipeline unrolled by four: direct entries are prefetched
    /// `directPrefetchDistance` addresses ahead, range blocks
    /// `rangePrefetchDistance` ahead (their direct entry has arrived by then).
    @inlinable @inline(__always)
    public func lookup(_ addresses: UnsafePointer<UInt32>, into results: UnsafeMutablePointer<UInt32>, count: Int) {
        let d1 = FIBRangeLookup.directPrefetchDistance
        let d2 = FIBRangeLookup.rangePrefetchDistance
        var i = 0
        let warm = count < d1 ? count : d1
        while i < warm {
            prefetchDirect(addresses[i])
            i &+= 1
        }
        i = 0
        let warmRanges = count < d2 ? count : d2
        while i < warmRanges {
            prefetchRanges(addresses[i])
            i &+= 1
        }
        i = 0
        while i &+ d1 &+ 4 <= count {
            prefetchDirect(addresses[i &+ d1])
            prefetchDirect(addresses[i &+ d1 &+ 1])
            prefetchDirect(addresses[i &+ d1 &+ 2])
            prefetchDirect(addresses[i &+ d1 &+ 3])
            prefetchRanges(addresses[i &+ d2])
            prefetchRanges(addresses[i &+ d2 &+ 1])
            prefetchRanges(addresses[i &+ d2 &+ 2])
            prefetchRanges(addresses[i &+ d2 &+ 3])
            results[i] = lookup(addresses[i])
            results[i &+ 1] = lookup(addresses[i &+ 1])
            results[i &+ 2] = lookup(addresses[i &+ 2])
            results[i &+ 3] = lookup(addresses[i &+ 3])
            i &+= 4
        }
        while i &+ d2 < count {
            prefetchRanges(addresses[i &+ d2])
            results[i] = lookup(addresses[i])
            i &+= 1
        }
        while i < count {
            results[i] = lookup(addresses[i])
            i &+= 1
        }
    }
}
