/// Frames longer than one buffer, as chains of pool buffers (VPP's
/// vlib_buffer chains): the first buffer starts at `BufferPool.headroom` and
/// holds the headers, every later one uses the whole 2048 bytes from offset
/// 0; `nextBuffer` links them and the first one's `chainLength` counts the
/// bytes after it. Nodes that only read headers see the first buffer and
/// need no change; nodes that touch the payload walk the chain.
///
/// Building a chain takes every buffer it needs before writing any byte, so
/// a dry pool costs nothing but the refusal.
public enum BufferChain {
    /// Bytes one later (non-first) buffer of a chain holds.
    public static let segmentCapacity = BufferPool.bufferSize

    /// Takes `n` buffers into `out`, all or none: false (nothing taken) when
    /// the pool runs dry part way. The one way a multi-buffer frame (a chain,
    /// a clone, the segments of a super-frame) gets its buffers.
    @inlinable
    public static func take(_ n: Int, into out: UnsafeMutablePointer<UInt32>, buffers: WorkerBuffers) -> Bool {
        for i in 0..<n {
            let bi = buffers.alloc()
            if _slowPath(bi == BufferPool.invalid) {
                buffers.free(out, count: i)
                return false
            }
            out[i] = bi
        }
        return true
    }

    /// Buffers a frame of `length` bytes needs.
    @inlinable
    public static func buffersNeeded(_ length: Int) -> Int {
        length <= BufferPool.maxDataLength ? 1 : 1 &+ (length &- BufferPool.maxDataLength &+ segmentCapacity &- 1) / segmentCapacity
    }

    /// The longest frame a chain carries: a 64 KB GSO frame with its headers
    /// (what the kernel hands a packet socket or a TAP at most).
    public static let maxFrameLength = 65_536 + 256
    /// Buffers in a chain of `maxFrameLength` bytes; longer chains are refused.
    public static let maxBuffers = buffersNeeded(maxFrameLength)

    /// Copies `length` (at most `maxFrameLength`) bytes from `src` into a new
    /// chain, or one buffer, and returns its first buffer; `BufferPool.invalid`
    /// when the pool cannot give every buffer it needs (nothing is taken then).
    /// Metadata other than offsets, lengths and links is the caller's to set.
    /// No allocation: the indices are gathered on the stack.
    public static func copy(from src: UnsafeRawPointer, length: Int, buffers: WorkerBuffers) -> UInt32 {
        precondition(length >= 0 && length <= maxFrameLength, "BufferChain.copy: \(length) bytes")
        let n = buffersNeeded(length)
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: maxBuffers) { taken in
            guard take(n, into: taken.baseAddress!, buffers: buffers) else { return BufferPool.invalid }
            return link(taken.baseAddress!, count: n, from: src, length: length, pool: buffers.pool, metadata: buffers.pool.metadata)
        }
    }

    /// Appends `length` more bytes from `src` to the single buffer `head`
    /// (already holding the frame's start), as a chain behind it. False when
    /// the pool cannot give every buffer needed (nothing is taken then, and
    /// `head` is left as it was). No allocation.
    public static func extend(_ head: UInt32, from src: UnsafeRawPointer, length: Int, buffers: WorkerBuffers) -> Bool {
        let n = (length &+ segmentCapacity &- 1) / segmentCapacity
        precondition(n < maxBuffers && buffers.pool.metadata[Int(head)].nextBuffer == BufferPool.invalid)
        if n == 0 { return true }
        let pool = buffers.pool, md = pool.metadata
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: maxBuffers) { taken in
            guard take(n, into: taken.baseAddress!, buffers: buffers) else { return false }
            var copied = 0, previous = head
            for i in 0..<n {
                let bi = taken[i], k = min(segmentCapacity, length &- copied)
                pool.data(bi).copyMemory(from: src + copied, byteCount: k)
                md[Int(bi)].dataOffset = 0
                md[Int(bi)].length = UInt16(k)
                md[Int(previous)].nextBuffer = bi
                previous = bi
                copied &+= k
            }
            md[Int(head)].chainLength = UInt32(length)
            return true
        }
    }

    /// As `copy(from:length:buffers:)`, with the buffers already taken (`count`
    /// of them, `buffersNeeded(length)`): no allocation at all.
    @inlinable
    public static func link(_ indices: UnsafePointer<UInt32>, count: Int, from src: UnsafeRawPointer, length: Int,
                            pool: BufferPool, metadata md: UnsafeMutablePointer<BufferMetadata>) -> UInt32 {
        var copied = 0
        for i in 0..<count {
            let bi = indices[i]
            let offset = i == 0 ? BufferPool.headroom : 0
            let room = i == 0 ? BufferPool.maxDataLength : segmentCapacity
            let k = min(room, length &- copied)
            (pool.data(bi) + offset).copyMemory(from: src + copied, byteCount: k)
            md[Int(bi)].dataOffset = UInt16(offset)
            md[Int(bi)].length = UInt16(k)
            md[Int(bi)].nextBuffer = i &+ 1 < count ? indices[i &+ 1] : BufferPool.invalid
            copied &+= k
        }
        md[Int(indices[0])].chainLength = UInt32(length &- Int(md[Int(indices[0])].length))
        return indices[0]
    }

    /// Copies the whole frame headed by `head` to `dst` (room for
    /// `metadata.totalLength` bytes); returns the bytes written.
    @inlinable
    public static func gather(_ head: UInt32, to dst: UnsafeMutableRawPointer, pool: BufferPool) -> Int {
        let md = pool.metadata
        var bi = head, written = 0
        while bi != BufferPool.invalid {
            let m = md[Int(bi)]
            (dst + written).copyMemory(from: pool.data(bi) + Int(m.dataOffset), byteCount: Int(m.length))
            written &+= Int(m.length)
            bi = m.nextBuffer
        }
        return written
    }

    /// Buffers in the chain headed by `head` (1 for a single buffer).
    @inlinable
    public static func count(_ head: UInt32, metadata md: UnsafePointer<BufferMetadata>) -> Int {
        var n = 0, bi = head
        while bi != BufferPool.invalid { n &+= 1; bi = md[Int(bi)].nextBuffer }
        return n
    }
}
