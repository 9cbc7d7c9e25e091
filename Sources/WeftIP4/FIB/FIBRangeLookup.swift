import CShims

/// The read side of one `FIBRangeTable` (DXR): two raw pointers and the chunk
/// geometry, copied into a node's locals once per vector. Lookups touch nothing
/// else: no class, no retain, no allocation.
///
/// **Direct table** (`direct`, 2^K `UInt32`, indexed by the top K bits):
/// - bit 31 clear: the whole chunk resolves to one entry, `0` = no route,
///   otherwise adjacency + 1 (so the result is `entry - 1` without a branch);
/// - bit 31 set: the chunk is split into ranges; bits 0...29 are the word
///   offset of its range block in `ranges`, bit 30 says the block's next hops
///   are 32-bit ("long") rather than 16-bit ("short").
///
/// **Range block** (n >= 2 ranges, sorted by start; range 0 starts at offset 0):
/// - `UInt16` [0] = n - 1 (range 0's start is always 0, so its slot holds the count);
/// - `UInt16` [1..<n] = start of ranges 1..<n (the address's low 32-K bits);
/// - short: `UInt16` [n..<2n] = adjacency + 1 of each range (n words in all);
/// - long: from word ceil(n/2), `UInt32` adjacency + 1 of each range (ceil(n/2) + n words).
///
/// Starts and next hops are kept apart (not interleaved) so that the binary
/// search walks 2-byte keys (32 per cache line) and only the winner's next hop
/// is read: 4 bytes per range when every next hop of the chunk is below
/// 0xFFFF, 6 when not, instead of DXR's 4 or 8.
@frozen
public struct FIBRangeLookup {
    public let direct: UnsafePointer<UInt32>
    public let ranges: UnsafeRawPointer
    /// 32 - K: the shift that leaves the chunk number.
    public let chunkShift: UInt32
    /// 2^(32-K) - 1: the address's offset inside its chunk.
    public let offsetMask: UInt32

    @usableFromInline static let rangedFlag: UInt32 = 0x8000_0000
    @usableFromInline static let longFlag: UInt32 = 0x4000_0000
    @usableFromInline static let blockMask: UInt32 = 0x3FFF_FFFF

    @inlinable @inline(__always)
    public init(direct: UnsafePointer<UInt32>, ranges: UnsafeRawPointer, directBits: Int) {
        self.direct = direct
        self.ranges = ranges
        chunkShift = UInt32(32 - directBits)
        offsetMask = (1 << UInt32(32 - directBits)) &- 1
    }

    /// Adjacency of the longest prefix matching `address` (host byte order), or
    /// `FIBTable.miss`. The scalar path, and the oracle of the bulk lookup.
    @inlinable @inline(__always)
    public func lookup(_ address: UInt32) -> UInt32 {
        let e = direct[Int(truncatingIfNeeded: address &>> chunkShift)]
        if e & FIBRangeLookup.rangedFlag == 0 { return e &- 1 }
        return search(e, address & offsetMask)
    }

    /// Binary search of chunk entry `e`'s range block for the last range
    /// starting at or below `offset`: branch-free steps (a conditional move
    /// each), ceil(log2 n) of them.
    @inlinable @inline(__always)
    func search(_ e: UInt32, _ offset: UInt32) -> UInt32 {
        let block = ranges + Int(truncatingIfNeeded: e & FIBRangeLookup.blockMask) &<< 2
        let last = Int(truncatingIfNeeded: block.load(as: UInt16.self))
        var low = 0
        var length = last &+ 1
        while length > 1 {
            let half = length &>> 1
            let start = UInt32(truncatingIfNeeded: block.load(fromByteOffset: (low &+ half) &<< 1, as: UInt16.self))
            low = start <= offset ? low &+ half : low
            length &-= half
        }
        if e & FIBRangeLookup.longFlag != 0 {
            let hops = ((last &+ 2) &>> 1) &<< 2
            return block.load(fromByteOffset: hops &+ low &<< 2, as: UInt32.self) &- 1
        }
        let hop = block.load(fromByteOffset: (last &+ 1 &+ low) &<< 1, as: UInt16.self)
        return UInt32(truncatingIfNeeded: hop) &- 1
    }

    /// How far ahead (in addresses) the bulk lookup prefetches direct entries.
    public static let directPrefetchDistance = 16
    /// How far ahead it reads the (by then prefetched) direct entry and
    /// prefetches the chunk's range block (its first three cache lines: a
    /// long block of 30 ranges is 180 bytes).
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
