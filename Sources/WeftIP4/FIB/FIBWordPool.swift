#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pool of 4-byte words in one lazily mapped `ZeroMapping`, handed out in
/// blocks whose size is rounded up to a size class. `FIBRangeTable` keeps each
/// chunk's ranges (and, in a second pool, each chunk's route list) in one
/// block, so a change rebuilds one block without moving anything else.
///
/// Why size classes and not a general allocator: blocks are freed and taken
/// again in the same few sizes (a chunk's range count changes by one or two per
/// update), so a LIFO free list per class reuses freed space exactly and the
/// high-water mark stops growing under churn; no splitting or coalescing, so
/// `allocate` and `free` are O(1). Classes are exact up to 16 words, then four
/// per power of two (20, 24, 28, 32, 40, ...): at most 25% rounding waste.
///
/// The mapping never moves (workers hold a raw pointer to it); its address
/// space is reserved up front with `MAP_NORESERVE` and pages are taken only as
/// the high-water mark reaches them.
struct FIBWordPool {
    let words: UnsafeMutablePointer<UInt32>
    let capacity: Int
    private let mapping: ZeroMapping
    /// Blocks never handed out start here.
    private(set) var highWater = 0
    /// Words in blocks currently allocated (after rounding to the class size).
    private(set) var wordsInUse = 0
    private var freeLists: [[UInt32]] = []

    /// - Parameter capacity: words of address space to reserve (at most 2^29,
    ///   since `FIBRangeLookup` keeps block offsets in 29 bits).
    init(capacity: Int, hugePages: Bool = false) throws {
        precondition(capacity > 0 && capacity <= 1 << 29)
        // 32 bytes of slack: FIBRangeLookup.countStarts reads a block's first 32 bytes.
        mapping = try ZeroMapping(bytes: capacity * 4 + 32, hugePages: hugePages)
        self.capacity = capacity
        words = mapping.base.bindMemory(to: UInt32.self, capacity: capacity)
    }

    func unmap() { mapping.unmap() }

    /// Size class of a block of `count` words (count >= 1).
    @inline(__always) static func sizeClass(_ count: Int) -> Int {
        if count <= 16 { return count - 1 }
        let s = count - 1
        let b = (Int.bitWidth - 1) - s.leadingZeroBitCount   // floor(log2(count - 1)) >= 4
        return 16 + (b - 4) * 4 + (s >> (b - 2)) - 4
    }

    /// Words in a block of size class `c`.
    @inline(__always) static func classWords(_ c: Int) -> Int {
        if c < 16 { return c + 1 }
        let j = c - 16, b = 4 + j / 4, m = j % 4 + 4
        return (m + 1) << (b - 2)
    }

    /// A block of at least `count` words (contents undefined), as a word offset;
    /// nil when the reserved space is used up.
    mutating func allocate(_ count: Int) -> Int? {
        let c = FIBWordPool.sizeClass(count), size = FIBWordPool.classWords(c)
        if c < freeLists.count, let block = freeLists[c].popLast() {
            wordsInUse += size
            return Int(block)
        }
        guard highWater + size <= capacity else { return nil }
        let block = highWater
        highWater += size
        wordsInUse += size
        return block
    }

    /// Returns a block taken with `allocate(count)` (same `count` class).
    mutating func free(_ block: Int, count: Int) { free(block, sizeClass: FIBWordPool.sizeClass(count)) }

    /// Returns a block of size class `c`.
    mutating func free(_ block: Int, sizeClass c: Int) {
        while freeLists.count <= c { freeLists.append([]) }
        freeLists[c].append(UInt32(block))
        wordsInUse -= FIBWordPool.classWords(c)
    }

    /// Forgets every block and gives the pages back to the kernel.
    mutating func removeAll() {
        mapping.discard()
        highWater = 0
        wordsInUse = 0
        freeLists.removeAll()
    }

    /// After the owner has slid every live block down to `[0, end)`: forgets
    /// the free blocks, lowers the high-water mark to `end` and gives the pages
    /// above it back to the kernel.
    mutating func compacted(to end: Int) {
        precondition(end <= highWater)
        freeLists.removeAll()
        let page = 4096
        let keep = (end * 4 + page - 1) / page * page, top = (highWater * 4 + page - 1) / page * page
        if top > keep { _ = madvise(mapping.base + keep, top - keep, Int32(MADV_DONTNEED)) }
        highWater = end
    }

    /// Heap bytes of the free lists (control-side bookkeeping).
    var freeListBytes: Int { freeLists.reduce(freeLists.capacity * 8) { $0 + $1.capacity * 4 } }

    func residentBytes() -> Int { mapping.residentBytes() }
}
