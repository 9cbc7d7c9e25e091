#if canImport(Glibc)
import Glibc
#endif

/// A value guarded by a pthread mutex, for the few locks off the per-packet
/// path (buffer-pool batches, the worker barrier, the spare AF_PACKET sockets).
///
/// Why not Swift's `Synchronization.Mutex`: on Linux it locks with raw futex
/// calls from the prebuilt, uninstrumented Synchronization module, so
/// ThreadSanitizer sees neither the lock nor the ordering it gives and reports
/// every access it guards as a race (docs/sanitizers.md). glibc's uncontended
/// pthread_mutex costs the same two atomic operations, and TSan models it.
public final class PThreadMutex<State>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    public init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the lock held and the state lent to it.
    @inline(__always)
    public func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
