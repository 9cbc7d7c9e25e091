/// A worker's private cache of free buffer indices. Allocation and free are a
/// pointer bump on this stack; it refills from / spills to the shared pool in
/// batches. Exhaustion is counted, never fatal: the caller gets
/// `BufferPool.invalid` and drops what it was about to receive.
public final class WorkerBuffers {
    public let pool: BufferPool
    @usableFromInline let metadata: UnsafeMutablePointer<BufferMetadata>
    @usableFromInline let cache: UnsafeMutablePointer<UInt32>
    @usableFromInline var cached: Int = 0
    @usableFromInline let capacity: Int
    @usableFromInline let batch: Int
    /// Allocations refused because the pool was empty.
    @usableFromInline internal(set) var _allocFailures: UInt64 = 0
    public var allocFailures: UInt64 { _allocFailures }

    public init(pool: BufferPool, capacity: Int = 1024) {
        self.pool = pool
        metadata = pool.metadata
        self.capacity = capacity
        batch = capacity / 2
        cache = .allocate(capacity: capacity)
    }

    deinit {
        if cached > 0 { pool.give(cached, from: cache) }
        cache.deallocate()
    }

    /// Free buffers held by this cache.
    public var cachedCount: Int { cached }

    @inlinable @inline(__always)
    public func alloc() -> UInt32 {
        if _slowPath(cached == 0) {
            refill()
            if cached == 0 { _allocFailures &+= 1; return BufferPool.invalid }
        }
        cached &-= 1
        return cache[cached]
    }

    /// Frees `bi` and, when it heads a chain, every buffer after it.
    @inlinable @inline(__always)
    public func free(_ bi: UInt32) {
        let m = metadata + Int(bi)
        if _slowPath(m.pointee.nextBuffer != BufferPool.invalid || m.pointee.gsoSize != 0) {
            freeChain(bi)
            return
        }
        freeOne(bi)
    }

    @inlinable @inline(__always)
    func freeOne(_ bi: UInt32) {
        if _slowPath(cached == capacity) { spill() }
        cache[cached] = bi
        cached &+= 1
    }

    /// A chain, or a GSO frame: restores the free-buffer invariant of the
    /// large-frame fields (BufferMetadata) on each buffer it frees.
    @usableFromInline @inline(never)
    func freeChain(_ head: UInt32) {
        var bi = head
        var left = pool.count   // a corrupted (cyclic) chain cannot loop forever
        while bi != BufferPool.invalid && left > 0 {
            let m = metadata + Int(bi)
            let next = m.pointee.nextBuffer
            m.pointee.clearLargeFrameFields()
            freeOne(bi)
            bi = next
            left &-= 1
        }
    }

    /// Makes `head` a single-buffer, non-GSO frame of its own bytes: frees
    /// every buffer after it and clears the large-frame fields (a node that
    /// keeps only the headers, e.g. an ICMP error quoting a super-frame).
    public func keepFirstBuffer(_ head: UInt32) {
        let m = metadata + Int(head)
        let next = m.pointee.nextBuffer
        m.pointee.clearLargeFrameFields()
        if next != BufferPool.invalid { freeChain(next) }
    }

    public func free(_ indices: UnsafePointer<UInt32>, count: Int) {
        for i in 0..<count { free(indices[i]) }
    }

    @usableFromInline func refill() {
        cached += pool.take(batch, into: cache + cached)
    }

    @usableFromInline func spill() {
        cached -= batch
        pool.give(batch, from: cache + cached)
    }

    /// Returns every cached buffer to the pool (worker shutdown, tests).
    public func drain() {
        pool.give(cached, from: cache)
        cached = 0
    }
}
