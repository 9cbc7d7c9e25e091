import Foundation
import NIOCore
import NIOPosix

/// The control thread: one dedicated OS thread that runs every call into the
/// Dataplane and the state store, one at a time, in submission order. The
/// Dataplane contract requires a single control thread, and serialising all
/// mutations also makes check-then-act sequences (duplicate checks, IPAM)
/// race-free without further locking.
public final class ControlExecutor: Sendable {
    private let pool: NIOThreadPool

    public init() {
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    /// Runs `body` on the control thread; the future completes on `eventLoop`.
    public func submit<T: Sendable>(on eventLoop: EventLoop, _ body: @escaping @Sendable () throws -> T) -> EventLoopFuture<T> {
        pool.runIfActive(eventLoop: eventLoop, body)
    }

    /// Runs `body` on the control thread and waits for it (for start-up work
    /// such as the reconciler). Must not be called from the control thread itself.
    public func runSync<T>(_ body: @escaping () throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let outcome = ResultBox<T>()
        let work = UncheckedSendable(body)
        pool.submit { state in
            if case .active = state {
                outcome.result = Result { try work.value() }
            } else {
                outcome.result = .failure(NIOThreadPoolError.ThreadPoolInactive())
            }
            done.signal()
        }
        done.wait()
        guard let result = outcome.result else { throw NIOThreadPoolError.ThreadPoolInactive() }
        return try result.get()
    }

    /// Waits for queued work to finish, then stops the thread.
    public func shutdown() {
        try? pool.syncShutdownGracefully()
    }
}

/// Hands a value to the control thread. Safe because the value is only ever
/// touched there (or before/after, ordered by the semaphore).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
