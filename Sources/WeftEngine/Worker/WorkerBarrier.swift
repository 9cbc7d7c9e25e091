import CShims
import Synchronization

/// Stops the worker at a vector boundary so the control thread can change
/// tables the worker reads: request -> worker parks -> apply -> release.
/// Forwarding pauses for the length of the change only.
public final class WorkerBarrier: @unchecked Sendable {
    private let requested = Atomic<Bool>(false)
    private let parked = Atomic<Bool>(false)
    private let lock = PThreadMutex<Void>(())

    public init() {}

    /// Worker side, once per loop: a relaxed load when nobody is waiting.
    @inline(__always)
    public func checkpoint() {
        if requested.load(ordering: .acquiring) { park() }
    }

    private func park() {
        parked.store(true, ordering: .releasing)
        while requested.load(ordering: .acquiring) { weft_cpu_relax() }
        parked.store(false, ordering: .releasing)
    }

    /// Control side: runs `body` while the worker is parked. With no worker
    /// running (`workerRunning` false) the body runs directly.
    public func withWorkerStopped<T>(workerRunning: () -> Bool, wake: () -> Void = {}, _ body: () throws -> T) rethrows -> T {
        try lock.withLock { _ in
            guard workerRunning() else { return try body() }
            requested.store(true, ordering: .releasing)
            wake()
            defer { requested.store(false, ordering: .releasing) }
            while !parked.load(ordering: .acquiring) {
                if !workerRunning() { break }
                sched_yield()
            }
            return try body()
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
