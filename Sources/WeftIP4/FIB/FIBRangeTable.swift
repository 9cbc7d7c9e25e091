/// One IPv4 forwarding table in DXR form (Zec, Rizzo, Mikuc: "DXR: towards a
/// billion routing lookups per second in software"): longest-prefix match from
/// an address to a `UInt32` adjacency in a few MiB instead of DIR-24-8's 64+.
///
/// **Layout** (see `FIBRangeLookup` for the encoding). The address space is cut
/// into 2^K chunks by the top K bits (`directBits`, 16...20). A direct table of
/// 2^K `UInt32` entries either resolves a whole chunk to one adjacency or names
/// the chunk's range block: the chunk's address ranges (maximal runs of
/// addresses with the same longest match), sorted, found by a branch-free
/// search over their 16-bit starts; a chunk of more than `splitThreshold`
/// ranges gets a split block (a sub-entry per /24) instead. Blocks live in a
/// `FIBWordPool`.
///
/// **Updates** rebuild only the chunks a change touches: a prefix longer than
/// /K touches one chunk, a /L with L <= K the 2^(K-L) chunks it covers (of which
/// only those with longer prefixes need a range block rebuilt; the others are a
/// direct-entry store). To rebuild a chunk quickly the control side keeps:
/// - per chunk, its prefixes longer than /K as a sorted list of
///   (offset << 6 | length, adjacency + 1) word pairs, in a second word pool;
/// - per chunk, the adjacency + 1 and length + 1 of the longest prefix of /K or
///   shorter that covers it (`coverValue`, `coverDepth`: a DIR-K table of the
///   short prefixes, updated like `FIBTable`'s first level);
/// - the `FIBPrefixStore` of every prefix, for the fallback of a deleted short
///   prefix, exact-prefix queries, `routes()` and the reference lookup.
/// A rebuild sweeps the chunk's sorted list with a stack of open prefixes and
/// writes the block in place while it fits and is at most one doubling too big
/// (so a delete + re-add does not reallocate).
///
/// **Memory.** Lookup side: 2^K * 4 bytes + the range pool's high-water mark.
/// Control side: the route-list pool, 15 bytes per chunk, and the prefix store's
/// dictionaries (heap, estimated). See `memory`.
///
/// **Concurrency.** As `FIBTable`: changes on the control thread under the
/// worker barrier (blocks are rewritten and reused in place), lookups through
/// `lookupView` on workers.
public final class FIBRangeTable {
    /// Allowed values of `directBits` (16: starts fill a `UInt16`; above 20 the
    /// direct table outgrows the caches for little gain).
    public static let directBitsRange = 16...20
    /// Default chunk split, chosen by measurement (docs/fib.md).
    public static let defaultDirectBits = 18
    /// Words of address space reserved per pool unless told otherwise (1 GiB,
    /// `MAP_NORESERVE`: only the high-water mark is backed by memory).
    public static let defaultPoolWords = 1 << 28

    public let directBits: Int
    private let chunkCount: Int
    private let chunkShift: Int
    private let offsetMask: UInt32
    private let chunkSize: Int

    @usableFromInline let direct: UnsafeMutablePointer<UInt32>
    private var ranges: FIBWordPool
    private var routeLists: FIBWordPool
    private let routeListBlock: UnsafeMutablePointer<UInt32>
    private let routeListCount: UnsafeMutablePointer<UInt32>
    private let coverValue: UnsafeMutablePointer<UInt32>
    private let coverDepth: UnsafeMutablePointer<UInt8>
    /// Size class of each chunk's range block. A block is rewritten in place
    /// while its new size fits and is no more than one doubling smaller, so a
    /// delete followed by a re-add (or any change of a range or two) does not
    /// reallocate.
    private let rangeBlockClass: UnsafeMutablePointer<UInt8>
    /// Size class of each chunk's route-list block (same policy, see `removeRoute`).
    private let routeListClass: UnsafeMutablePointer<UInt8>
    private let mappings: [ZeroMapping]
    private var store = FIBPrefixStore()

    // Rebuild scratch (control side, allocated once).
    private let scratchStarts: UnsafeMutablePointer<Int>
    private let scratchValues: UnsafeMutablePointer<UInt32>
    private let stackEnds: UnsafeMutablePointer<Int>
    private let stackValues: UnsafeMutablePointer<UInt32>

    /// Number of prefixes in the table.
    public var count: Int { store.count }

    /// Chunk rebuilds done by changes so far (a measure of update cost).
    public private(set) var chunkRebuilds: UInt64 = 0

    /// The read side for workers: valid as long as this table lives.
    @inlinable public var lookupView: FIBRangeLookup {
        FIBRangeLookup(direct: direct, ranges: rangesBase, directBits: directBits)
    }
    @usableFromInline var rangesBase: UnsafeRawPointer { UnsafeRawPointer(ranges.words) }

    /// - Parameters:
    ///   - directBits: K, the address bits that index the direct table.
    ///   - poolWords: words of address space reserved for range blocks (and as
    ///     much again for the control side's route lists), at most 2^29.
    ///   - hugePages: back the direct table and the range pool (the lookup
    ///     side) with transparent huge pages (`MADV_HUGEPAGE`).
    public init(directBits: Int = FIBRangeTable.defaultDirectBits, poolWords: Int = FIBRangeTable.defaultPoolWords,
                hugePages: Bool = false) throws {
        precondition(FIBRangeTable.directBitsRange.contains(directBits), "directBits must be 16...20")
        precondition((1...(1 << 29)).contains(poolWords), "poolWords must be 1...2^29")
        self.directBits = directBits
        chunkCount = 1 << directBits
        chunkShift = 32 - directBits
        chunkSize = 1 << (32 - directBits)
        offsetMask = UInt32(chunkSize - 1)
        let d = try ZeroMapping(bytes: chunkCount * 4, hugePages: hugePages)
        let lb = try ZeroMapping(bytes: chunkCount * 4)
        let lc = try ZeroMapping(bytes: chunkCount * 4)
        let cv = try ZeroMapping(bytes: chunkCount * 4)
        let cd = try ZeroMapping(bytes: chunkCount)
        let bc = try ZeroMapping(bytes: chunkCount)
        let lcl = try ZeroMapping(bytes: chunkCount)
        mappings = [d, lb, lc, cv, cd, bc, lcl]
        routeListClass = lcl.base.bindMemory(to: UInt8.self, capacity: chunkCount)
        rangeBlockClass = bc.base.bindMemory(to: UInt8.self, capacity: chunkCount)
        direct = d.base.bindMemory(to: UInt32.self, capacity: chunkCount)
        routeListBlock = lb.base.bindMemory(to: UInt32.self, capacity: chunkCount)
        routeListCount = lc.base.bindMemory(to: UInt32.self, capacity: chunkCount)
        coverValue = cv.base.bindMemory(to: UInt32.self, capacity: chunkCount)
        coverDepth = cd.base.bindMemory(to: UInt8.self, capacity: chunkCount)
        ranges = try FIBWordPool(capacity: poolWords, hugePages: hugePages)
        routeLists = try FIBWordPool(capacity: poolWords)
        scratchStarts = .allocate(capacity: chunkSize + 1)
        scratchValues = .allocate(capacity: chunkSize + 1)
        stackEnds = .allocate(capacity: 33)
        stackValues = .allocate(capacity: 33)
    }

    deinit {
        for m in mappings { m.unmap() }
        ranges.unmap()
        routeLists.unmap()
        scratchStarts.deallocate()
        scratchValues.deallocate()
        stackEnds.deallocate()
        stackValues.deallocate()
    }

    // MARK: lookups (worker side)

    /// Scalar lookup: adjacency of the longest matching prefix, or `FIBTable.miss`.
    @inlinable @inline(__always)
    public func lookup(_ address: UInt32) -> UInt32 { lookupView.lookup(address) }

    /// Bulk lookup of a vector of addresses (host byte order); see `FIBRangeLookup`.
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

        if length <= directBits {
            let depth = UInt8(length + 1)
            let first = Int(prefix >> UInt32(chunkShift)), end = first + (1 << (directBits - length))
            var changed: [(chunk: Int, value: UInt32, depth: UInt8)] = []
            for c in first..<end where coverDepth[c] <= depth {
                changed.append((c, coverValue[c], coverDepth[c]))
                coverValue[c] = value
                coverDepth[c] = depth
                if !refreshChunk(c) {
                    // Undo: the blocks just freed are reused, so this cannot fail.
                    for old in changed.reversed() {
                        coverValue[old.chunk] = old.value
                        coverDepth[old.chunk] = old.depth
                        _ = refreshChunk(old.chunk)
                    }
                    throw FIBError.poolExhausted(pool: "range", words: ranges.capacity)
                }
            }
            store.set(prefix, length, adjacency)
            return
        }

        let c = Int(prefix >> UInt32(chunkShift))
        let key = (prefix & offsetMask) << 6 | UInt32(length)
        let (index, found) = findRoute(c, key)
        if found {
            let slot = Int(routeListBlock[c]) + 2 * index + 1
            let old = routeLists.words[slot]
            routeLists.words[slot] = value
            if !refreshChunk(c) {
                routeLists.words[slot] = old
                _ = refreshChunk(c)
                throw FIBError.poolExhausted(pool: "range", words: ranges.capacity)
            }
        } else {
            guard insertRoute(c, at: index, key: key, value: value) else {
                throw FIBError.poolExhausted(pool: "route-list", words: routeLists.capacity)
            }
            if !refreshChunk(c) {
                removeRoute(c, at: index)
                _ = refreshChunk(c)
                throw FIBError.poolExhausted(pool: "range", words: ranges.capacity)
            }
        }
        store.set(prefix, length, adjacency)
    }

    /// Removes `address/length`; addresses it covered fall back to the longest
    /// remaining prefix that covers them (or to no route). Returns false when
    /// the prefix was not in the table.
    ///
    /// A delete can split a merged range in two (the fallback differs from a
    /// neighbour that had the same adjacency), so it may need a larger block;
    /// it traps only if the reserved range pool (`poolWords`) is used up.
    @discardableResult
    public func delete(_ address: UInt32, length: Int) -> Bool {
        guard (0...32).contains(length) else { return false }
        let prefix = address & FIBPrefixStore.mask(length)
        guard store.remove(prefix, length) != nil else { return false }

        if length <= directBits {
            let depth = UInt8(length + 1)
            let cover = store.cover(of: prefix, shorterThan: length)
            let value = cover.map { $0.adjacency &+ 1 } ?? 0
            let coverLength = cover.map { UInt8($0.length + 1) } ?? 0
            let first = Int(prefix >> UInt32(chunkShift)), end = first + (1 << (directBits - length))
            for c in first..<end where coverDepth[c] == depth {
                coverValue[c] = value
                coverDepth[c] = coverLength
                precondition(refreshChunk(c), "FIBRangeTable: range pool exhausted")
            }
            return true
        }

        let c = Int(prefix >> UInt32(chunkShift))
        let key = (prefix & offsetMask) << 6 | UInt32(length)
        let (index, found) = findRoute(c, key)
        precondition(found, "FIBRangeTable: /\(length) prefix missing from its chunk list")
        removeRoute(c, at: index)
        precondition(refreshChunk(c), "FIBRangeTable: range pool exhausted")
        return true
    }


    /// Packs the range pool: slides every range block down over the free
    /// blocks, in address order, and returns the pages above to the kernel.
    /// A bulk load leaves ~15-20% of the pool in freed blocks of the sizes the
    /// chunks grew through; call this once after it (under the worker barrier:
    /// blocks move). O(chunks + pool).
    public func compact() {
        var live: [(block: UInt32, chunk: UInt32)] = []
        for c in 0..<chunkCount where direct[c] & FIBRangeLookup.rangedFlag != 0 {
            live.append((direct[c] & FIBRangeLookup.blockMask, UInt32(c)))
        }
        live.sort { $0.block < $1.block }
        var next = 0
        for (block, chunk) in live {
            let c = Int(chunk), from = Int(block)
            let size = FIBWordPool.classWords(Int(rangeBlockClass[c]))
            if from != next {
                UnsafeMutableRawPointer(ranges.words + next).copyMemory(from: ranges.words + from, byteCount: 4 * size)
                direct[c] = direct[c] & ~FIBRangeLookup.blockMask | UInt32(next)
            }
            next += size
        }
        ranges.compacted(to: next)
    }

    /// `compact()` when freed blocks make up more than an eighth of the range
    /// pool (a bulk load leaves 15-20%); under the barrier, as `compact()`.
    public func compactAfterBulkLoad() {
        if ranges.highWater - ranges.wordsInUse > ranges.highWater / 8 { compact() }
    }

    /// Removes every prefix and gives all memory back to the kernel.
    public func removeAll() {
        for m in mappings { m.discard() }
        ranges.removeAll()
        routeLists.removeAll()
        store.removeAll()
    }

    // MARK: control-side queries

    /// The adjacency stored for exactly this prefix, or nil.
    public func adjacency(of address: UInt32, length: Int) -> UInt32? {
        guard (0...32).contains(length) else { return nil }
        return store.get(address & FIBPrefixStore.mask(length), length)
    }

    /// Longest match computed from the prefix store, not the lookup tables
    /// (slow; for checks and tests).
    public func referenceLookup(_ address: UInt32) -> UInt32 {
        store.longestMatch(address)?.adjacency ?? FIBTable.miss
    }

    /// The longest stored prefix matching `address` and its adjacency, or nil
    /// (from the prefix store, for `show fib ADDRESS`).
    public func longestMatch(_ address: UInt32) -> FIBRoute? { store.longestRoute(address) }

    /// Every prefix, shortest first, then by address.
    public func routes() -> [FIBRoute] { store.all() }

    /// Bytes of the lookup side and of the control side.
    public struct Memory: Sendable, Codable {
        /// Direct table: 2^K * 4.
        public var directBytes: Int
        /// Range blocks currently in use (after size-class rounding).
        public var rangeBytesInUse: Int
        /// Range pool high-water mark (in use + free blocks kept for reuse):
        /// what the lookup side occupies.
        public var rangeBytesReserved: Int
        /// `directBytes + rangeBytesReserved`.
        public var lookupBytes: Int
        /// Route-list pool high-water mark (8 bytes per prefix longer than /K, rounded).
        public var routeListBytes: Int
        /// Per-chunk control arrays: list block + count + cover value + cover depth + range and list block classes (15 B per chunk).
        public var chunkControlBytes: Int
        /// Free lists of both pools (heap).
        public var freeListBytes: Int
        /// The prefix store's dictionaries (heap), estimated from their capacities.
        public var prefixStoreBytes: Int
        /// Everything on the control side: route lists + per-chunk arrays + free
        /// lists + prefix store.
        public var controlBytes: Int
    }

    public var memory: Memory {
        let d = chunkCount * 4
        let chunkControl = chunkCount * 15
        let lists = routeLists.highWater * 4
        let freeBytes = ranges.freeListBytes + routeLists.freeListBytes
        return Memory(directBytes: d, rangeBytesInUse: ranges.wordsInUse * 4,
                      rangeBytesReserved: ranges.highWater * 4, lookupBytes: d + ranges.highWater * 4,
                      routeListBytes: lists, chunkControlBytes: chunkControl, freeListBytes: freeBytes,
                      prefixStoreBytes: store.estimatedHeapBytes,
                      controlBytes: lists + chunkControl + freeBytes + store.estimatedHeapBytes)
    }

    /// Resident bytes (mincore) of the lookup side (direct table + range pool)
    /// and of the control side's mappings (route lists, per-chunk arrays).
    public func residentBytes() -> (lookup: Int, control: Int) {
        (mappings[0].residentBytes() + ranges.residentBytes(),
         mappings[1...].reduce(routeLists.residentBytes()) { $0 + $1.residentBytes() })
    }

    /// Shape of the table: chunks resolved by the direct entry, chunks with a
    /// short or long range block, and ranges in all blocks.
    public struct Shape: Sendable, Codable {
        public var directChunks: Int
        public var shortChunks: Int
        public var longChunks: Int
        /// Of the short and long chunks, those with a split block.
        public var splitChunks: Int = 0
        public var ranges: Int
    }

    public var shape: Shape {
        var s = Shape(directChunks: 0, shortChunks: 0, longChunks: 0, ranges: 0)
        for c in 0..<chunkCount {
            let e = direct[c]
            if e & FIBRangeLookup.rangedFlag == 0 { s.directChunks += 1; continue }
            if e & FIBRangeLookup.longFlag != 0 { s.longChunks += 1 } else { s.shortChunks += 1 }
            if e & FIBRangeLookup.splitFlag != 0 { s.splitChunks += 1 }
            s.ranges += rangeCount(e)
        }
        return s
    }

    // MARK: chunk rebuild

    @inline(__always) private func rangeCount(_ entry: UInt32) -> Int {
        let block = Int(entry & FIBRangeLookup.blockMask)
        if entry & FIBRangeLookup.splitFlag != 0 { return Int(ranges.words[block]) }
        return Int(UnsafeRawPointer(ranges.words + block).load(as: UInt16.self)) + 1
    }

    /// Chunks with more ranges than this get a split block (a sub-entry per
    /// /24; see `FIBRangeLookup`) instead of one range block: a lookup then
    /// never searches more than 16 ranges in a split chunk. The lookup relies
    /// on it: its five fixed steps cover range blocks of at most 32 ranges.
    /// docs/fib.md, "Crowded chunks".
    public static let splitThreshold = 32

    /// Ranges `first..<end` of the chunk's sweep that meet the /24 `s`.
    @inline(__always) private func subRanges(_ s: Int, from first: Int, count n: Int) -> (first: Int, end: Int) {
        let lo = s << 8, hi = lo + 256
        var i = first
        while i + 1 < n && scratchStarts[i + 1] <= lo { i += 1 }
        var j = i + 1
        while j < n && scratchStarts[j] < hi { j += 1 }
        return (i, j)
    }

    /// Words of a sub-block of `count` ranges (0: the sub-entry resolves it).
    @inline(__always) private static func subBlockWords(_ count: Int, long: Bool) -> Int {
        count == 1 ? 0 : count <= 16 ? blockWords(ranges: count, long: long) : (long ? 256 : 128)
    }

    /// Words of the split block of the chunk's `n` swept ranges.
    private func splitBlockWords(_ n: Int, long: Bool) -> Int {
        var words = 1 + (chunkSize >> 8), i = 0
        for s in 0..<(chunkSize >> 8) {
            let r = subRanges(s, from: i, count: n)
            words += FIBRangeTable.subBlockWords(r.end - r.first, long: long)
            i = r.first
        }
        return words
    }

    /// Writes the range block of ranges `first..<end` of the sweep at `raw`,
    /// starts taken relative to `base`.
    private func writeRangeBlock(_ raw: UnsafeMutableRawPointer, _ first: Int, _ end: Int, base: Int, long: Bool) {
        let n = end - first, starts = scratchStarts, values = scratchValues
        raw.storeBytes(of: UInt16(n - 1), as: UInt16.self)
        for i in 1..<n { raw.storeBytes(of: UInt16(starts[first + i] - base), toByteOffset: 2 * i, as: UInt16.self) }
        if long {
            if n & 1 == 1 { raw.storeBytes(of: 0, toByteOffset: 2 * n, as: UInt16.self) }
            let hops = (n + 1) / 2 * 4
            for i in 0..<n { raw.storeBytes(of: values[first + i], toByteOffset: hops + 4 * i, as: UInt32.self) }
        } else {
            for i in 0..<n { raw.storeBytes(of: UInt16(values[first + i]), toByteOffset: 2 * (n + i), as: UInt16.self) }
        }
    }

    /// Writes the split block of the chunk's `n` swept ranges at word `block`.
    private func writeSplitBlock(_ block: Int, _ n: Int, long: Bool) {
        let words = ranges.words + block
        let subs = chunkSize >> 8
        words[0] = UInt32(n)
        var next = 1 + subs, i = 0
        for s in 0..<subs {
            let r = subRanges(s, from: i, count: n)
            i = r.first
            let count = r.end - r.first
            if count == 1 { words[1 + s] = scratchValues[r.first]; continue }
            let raw = UnsafeMutableRawPointer(words + next)
            var entry = FIBRangeLookup.rangedFlag | (long ? FIBRangeLookup.longFlag : 0) | UInt32(next)
            if count <= 16 {
                writeRangeBlock(raw, r.first, r.end, base: s << 8, long: long)
            } else {
                entry |= FIBRangeLookup.denseFlag
                var k = r.first
                for octet in 0..<256 {
                    while k + 1 < r.end && scratchStarts[k + 1] <= (s << 8) + octet { k += 1 }
                    if long {
                        raw.storeBytes(of: scratchValues[k], toByteOffset: 4 * octet, as: UInt32.self)
                    } else {
                        raw.storeBytes(of: UInt16(scratchValues[k]), toByteOffset: 2 * octet, as: UInt16.self)
                    }
                }
            }
            words[1 + s] = entry
            next += FIBRangeTable.subBlockWords(count, long: long)
        }
    }

    @inline(__always) private static func blockWords(ranges n: Int, long: Bool) -> Int {
        long ? (n + 1) / 2 + n : n
    }

    /// Recomputes chunk `c`'s ranges from its cover and route list and stores
    /// them: a direct entry when one range is left, else a range block (in
    /// place when the size class is unchanged). False, with the chunk left as
    /// it was, when the range pool is used up.
    private func refreshChunk(_ c: Int) -> Bool {
        chunkRebuilds &+= 1
        let cover = coverValue[c]
        let listCount = Int(routeListCount[c])
        if listCount == 0 {
            releaseBlock(of: c)
            direct[c] = cover
            return true
        }
        let starts = scratchStarts, values = scratchValues
        var n = 0
        @inline(__always) func emit(_ start: Int, _ value: UInt32) {
            if n > 0 && starts[n - 1] == start { n -= 1 }           // same start: the later one wins
            if n > 0 && values[n - 1] == value { return }           // same adjacency: merge
            starts[n] = start
            values[n] = value
            n += 1
        }
        emit(0, cover)
        var open = 0
        let list = routeLists.words + Int(routeListBlock[c])
        for j in 0..<listCount {
            let key = list[2 * j], value = list[2 * j + 1]
            let start = Int(key >> 6), end = start + (1 << (32 - Int(key & 63)))
            while open > 0 && stackEnds[open - 1] <= start {
                open -= 1
                emit(stackEnds[open], open > 0 ? stackValues[open - 1] : cover)
            }
            emit(start, value)
            stackEnds[open] = end
            stackValues[open] = value
            open += 1
        }
        while open > 0 {
            open -= 1
            if stackEnds[open] < chunkSize { emit(stackEnds[open], open > 0 ? stackValues[open - 1] : cover) }
        }
        if n == 1 {
            releaseBlock(of: c)
            direct[c] = values[0]
            return true
        }

        var long = false
        for i in 0..<n where values[i] > 0xFFFF { long = true; break }
        let split = n > FIBRangeTable.splitThreshold
        let words = split ? splitBlockWords(n, long: long) : FIBRangeTable.blockWords(ranges: n, long: long)
        let old = direct[c]
        let needed = FIBWordPool.sizeClass(words), held = Int(rangeBlockClass[c])
        var block: Int
        let inPlace = old & FIBRangeLookup.rangedFlag != 0 && needed <= held && needed + 4 >= held
        if inPlace {
            block = Int(old & FIBRangeLookup.blockMask)
        } else {
            guard let b = ranges.allocate(words) else { return false }
            block = b
        }
        if split {
            writeSplitBlock(block, n, long: long)
        } else {
            writeRangeBlock(UnsafeMutableRawPointer(ranges.words + block), 0, n, base: 0, long: long)
        }
        let entry = FIBRangeLookup.rangedFlag | (long ? FIBRangeLookup.longFlag : 0)
            | (split ? FIBRangeLookup.splitFlag : 0) | UInt32(block)
        if !inPlace {
            releaseBlock(of: c)
            rangeBlockClass[c] = UInt8(needed)
        }
        direct[c] = entry
        return true
    }

    /// Frees chunk `c`'s range block, if it has one (the direct entry is then
    /// stale until the caller overwrites it).
    private func releaseBlock(of c: Int) {
        let e = direct[c]
        guard e & FIBRangeLookup.rangedFlag != 0 else { return }
        ranges.free(Int(e & FIBRangeLookup.blockMask), sizeClass: Int(rangeBlockClass[c]))
    }

    // MARK: per-chunk route lists (pairs of words: offset << 6 | length, adjacency + 1)

    /// Position of `key` in chunk `c`'s sorted list, or where it would go.
    private func findRoute(_ c: Int, _ key: UInt32) -> (index: Int, found: Bool) {
        let list = routeLists.words + Int(routeListBlock[c])
        var low = 0, high = Int(routeListCount[c])
        while low < high {
            let mid = (low + high) / 2
            let k = list[2 * mid]
            if k == key { return (mid, true) }
            if k < key { low = mid + 1 } else { high = mid }
        }
        return (low, false)
    }

    /// Inserts at `index`, growing the list's block to the exact class when
    /// full. Lists shrink only when less than half full (see `removeRoute`),
    /// so a delete + re-add moves nothing.
    private func insertRoute(_ c: Int, at index: Int, key: UInt32, value: UInt32) -> Bool {
        let n = Int(routeListCount[c])
        var block = Int(routeListBlock[c])
        let held = Int(routeListClass[c])
        if n == 0 || 2 * n + 2 > FIBWordPool.classWords(held) {
            guard let b = routeLists.allocate(2 * n + 2) else { return false }
            if n > 0 {
                (routeLists.words + b).update(from: routeLists.words + block, count: 2 * n)
                routeLists.free(block, sizeClass: held)
            }
            block = b
            routeListBlock[c] = UInt32(b)
            routeListClass[c] = UInt8(FIBWordPool.sizeClass(2 * n + 2))
        }
        let list = routeLists.words + block
        UnsafeMutableRawPointer(list + 2 * index + 2).copyMemory(from: list + 2 * index, byteCount: 8 * (n - index))
        list[2 * index] = key
        list[2 * index + 1] = value
        routeListCount[c] = UInt32(n + 1)
        return true
    }

    private func removeRoute(_ c: Int, at index: Int) {
        let n = Int(routeListCount[c])
        let block = Int(routeListBlock[c])
        let held = Int(routeListClass[c])
        let list = routeLists.words + block
        UnsafeMutableRawPointer(list + 2 * index).copyMemory(from: list + 2 * index + 2, byteCount: 8 * (n - 1 - index))
        routeListCount[c] = UInt32(n - 1)
        if n == 1 {
            routeLists.free(block, sizeClass: held)
            routeListBlock[c] = 0
        } else if 4 * (n - 1) <= FIBWordPool.classWords(held), let b = routeLists.allocate(2 * n - 2) {
            // Less than half full: move to the exact class (if there is no room, keep the block).
            (routeLists.words + b).update(from: list, count: 2 * n - 2)
            routeLists.free(block, sizeClass: held)
            routeListBlock[c] = UInt32(b)
            routeListClass[c] = UInt8(FIBWordPool.sizeClass(2 * n - 2))
        }
    }
}
