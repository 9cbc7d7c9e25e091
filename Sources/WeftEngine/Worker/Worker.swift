import CShims
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A forwarding thread: polls its input nodes, dispatches pending vectors,
/// runs housekeeping (table ageing) about every 100 ms, and parks at the
/// barrier when the control thread asks.
public final class Worker: @unchecked Sendable {
    public enum PollMode: String, Sendable, Codable {
        /// Spin on the inputs: lowest latency, one core always busy.
        case busy
        /// Spin while traffic flows; after ~1 ms without packets block in
        /// poll(2) on the inputs' descriptors (woken by the first packet).
        case adaptive
    }

    public let graph: Graph
    public let barrier = WorkerBarrier()
    public let cpu: Int?
    public let pollMode: PollMode
    private var inputs: [GraphNode] = []
    private var housekeeping: [(UInt32) -> Void] = []
    private let running = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private var thread: pthread_t?
    /// Wakes the worker from its idle poll(2) when the control thread needs it.
    private let wakeFd = weft_wake_fd()
    /// Loop iterations that found no packet (exported for `show runtime`).
    public private(set) var idlePolls: UInt64 = 0

    public init(graph: Graph, cpu: Int?, pollMode: PollMode) {
        self.graph = graph
        self.cpu = cpu
        self.pollMode = pollMode
    }

    /// Input nodes to poll, in order. Call before `start()` or under the barrier.
    public func setInputs(_ nodes: [GraphNode]) { inputs = nodes }

    /// `task(nowSeconds)` runs on the worker about every 100 ms.
    public func addHousekeeping(_ task: @escaping (UInt32) -> Void) { housekeeping.append(task) }

    public var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Runs `body` with the worker parked at a vector boundary.
    public func withBarrier<T>(_ body: () throws -> T) rethrows -> T {
        try barrier.withWorkerStopped(workerRunning: { isRunning }, wake: { weft_wake(wakeFd) }, body)
    }

    public func start() {
        precondition(thread == nil)
        running.store(true, ordering: .releasing)
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let worker = Unmanaged<Worker>.fromOpaque(arg!).takeRetainedValue()
            worker.run()
            return nil
        }, box.toOpaque())
        precondition(rc == 0, "worker: pthread_create failed: \(rc)")
        thread = t
    }

    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        weft_wake(wakeFd)
        if let t = thread { pthread_join(t, nil) }
        thread = nil
    }

    private func run() {
        if let cpu {
            let rc = weft_pin_current_thread(Int32(cpu))
            if rc != 0 { fputs("weftd: worker: cannot pin to CPU \(cpu): \(String(cString: strerror(-rc)))\n", stderr) }
        }
        defer { running.store(false, ordering: .releasing) }
        let tscHz = weft_tsc_hz()
        let housekeepingEvery = tscHz / 10
        var nextHousekeeping = weft_rdtsc() &+ housekeepingEvery
        var idleSince: UInt64 = 0
        let idleBlockAfter = tscHz / 1000
        while !stopRequested.load(ordering: .relaxed) {
            barrier.checkpoint()
            var got = 0
            for input in inputs { got &+= graph.poll(input) }
            graph.dispatchPending()
            let now = weft_rdtsc()
            if now >= nextHousekeeping {
                nextHousekeeping = now &+ housekeepingEvery
                graph.nowSeconds = UInt32(weft_monotonic_ns() / 1_000_000_000)
                for task in housekeeping { task(graph.nowSeconds) }
            }
            if got == 0 {
                idlePolls &+= 1
                if pollMode == .adaptive {
                    if idleSince == 0 { idleSince = now }
                    else if now &- idleSince > idleBlockAfter { blockUntilReadable(); idleSince = 0 }
                } else {
                    weft_cpu_relax()
                }
            } else {
                idleSince = 0
            }
        }
    }

    /// Sleeps in poll(2) for at most 10 ms (housekeeping runs at least that
    /// often); a packet on any input or a barrier request wakes it at once.
    private func blockUntilReadable() {
        let fds = [wakeFd] + inputs.flatMap(\.pollDescriptors)
        let rc = fds.withUnsafeBufferPointer { weft_poll_readable($0.baseAddress, Int32($0.count), 10) }
        if rc == -ENOMEM { usleep(1000) }  // the shim could not allocate its pollfd array: do not spin
        weft_wake_drain(wakeFd)
    }
}
