import CShims
#if canImport(Glibc)
import Glibc
#endif

/// One mmap'd arena of fixed 2048-byte buffers plus a parallel array of 64-byte
/// metadata records. Buffers are named by `UInt32` index; the pool's own free
/// list is the shared backing store that per-worker caches (`WorkerBuffers`)
/// refill from and spill to in batches, so the lock is taken once per batch,
/// never per packet.
public final class BufferPool: @unchecked Sendable {
    public static let bufferSize = 2048
    public static let bufferShift = 11
    /// Room in front of the packet for headers pushed later (VXLAN adds 50).
    public static let headroom = 128
    public static let maxDataLength = bufferSize - headroom
    public static let invalid: UInt32 = .max

    public let count: Int
    public let arena: UnsafeMutableRawPointer
    public let metadata: UnsafeMutablePointer<BufferMetadata>
    private let arenaLength: Int

    private let lock = PThreadMutex<Void>(())
    private let freeStack: UnsafeMutablePointer<UInt32>
    private var freeCount: Int

    public init(count: Int) {
        precondition(count > 0 && count < Int(UInt32.max))
        self.count = count
        arenaLength = count * BufferPool.bufferSize
        let p = mmap(nil, arenaLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
        guard let p, p != MAP_FAILED else { fatalError("buffer arena: mmap of \(arenaLength) bytes failed") }
        arena = p
        metadata = .allocate(capacity: count)
        metadata.initialize(repeating: BufferMetadata(), count: count)
        freeStack = .allocate(capacity: count)
        // Low indices on top: the first buffers handed out are adjacent in memory.
        for i in 0..<count { freeStack[i] = UInt32(count - 1 - i) }
        freeCount = count
    }

    deinit {
        munmap(arena, arenaLength)
        metadata.deallocate()
        freeStack.deallocate()
    }

    /// Buffers currently in the shared free list (not counting worker caches).
    public var sharedFree: Int { lock.withLock { _ in freeCount } }

    /// Moves up to `n` free indices into `out`; returns how many.
    func take(_ n: Int, into out: UnsafeMutablePointer<UInt32>) -> Int {
        lock.withLock { _ in
            let got = min(n, freeCount)
            freeCount -= got
            out.update(from: freeStack + freeCount, count: got)
            return got
        }
    }

    /// Returns `n` indices to the shared free list.
    func give(_ n: Int, from src: UnsafePointer<UInt32>) {
        lock.withLock { _ in
            precondition(freeCount + n <= count, "buffer pool: more buffers freed than exist")
            (freeStack + freeCount).update(from: src, count: n)
            freeCount += n
        }
    }

    @inlinable @inline(__always)
    public func data(_ bi: UInt32) -> UnsafeMutableRawPointer {
        arena + (Int(bi) &<< BufferPool.bufferShift)
    }
}
