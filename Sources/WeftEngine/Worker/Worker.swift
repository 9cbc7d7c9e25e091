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
        /// Spin while traffic flows; 1 ms after the last packet block in
        /// poll(2) on the inputs' descriptors (woken by the first packet, a
        /// control request, or housekeeping once a second) and stay blocked while idle.
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
    /// Where the worker's time goes (`show runtime`): read and cleared under the barrier.
    public struct Stats: Sendable, Equatable {
        /// Loop iterations that found packets, the packets, and the clocks they took.
        public var busyLoops: UInt64 = 0, packets: UInt64 = 0, busyClocks: UInt64 = 0
        /// Iterations that found none while spinning (after traffic, or in busy mode), and their clocks.
        public var idlePolls: UInt64 = 0, spinClocks: UInt64 = 0
        /// Blocking waits in poll(2); how many ended on a readable descriptor (a packet or a
        /// control request) rather than the timeout; clocks spent blocked.
        public var sleeps: UInt64 = 0, wakeups: UInt64 = 0, sleepClocks: UInt64 = 0
        public init() {}
    }
    public private(set) var stats = Stats()

    /// Zeroes `stats`. Call under the barrier.
    public func clearStats() { stats = Stats() }

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
        // Adaptive: spin for 1 ms after the last packet, then sleep until a packet, a control
        // request or a second after the last housekeeping (its tables count in seconds; while
        // busy it runs every 100 ms); an idle wake-up does not start another spin, so an idle
        // worker costs one housekeeping a second (one pass over every port) and nothing else.
        let spinAfterTraffic = tscHz / 1000
        let idleHousekeepingEvery = tscHz
        var lastHousekeeping = weft_rdtsc()
        var lastTraffic: UInt64 = 0
        while !stopRequested.load(ordering: .relaxed) {
            barrier.checkpoint()
            let start = weft_rdtsc()
            var got = 0
            for input in inputs { got &+= graph.poll(input) }
            graph.dispatchPending()
            var now = weft_rdtsc()
            if now >= nextHousekeeping {
                nextHousekeeping = now &+ housekeepingEvery
                graph.nowSeconds = UInt32(weft_monotonic_ns() / 1_000_000_000)
                for task in housekeeping { task(graph.nowSeconds) }
                now = weft_rdtsc()
                lastHousekeeping = now
            }
            if got > 0 {
                lastTraffic = now
                stats.busyLoops &+= 1
                stats.packets &+= UInt64(got)
                stats.busyClocks &+= now &- start
                continue
            }
            stats.idlePolls &+= 1
            stats.spinClocks &+= now &- start
            if pollMode == .adaptive && now &- lastTraffic > spinAfterTraffic {
                let due = lastHousekeeping &+ idleHousekeepingEvery
                let ms = due > now ? Int32(min(1000, (due &- now) / (tscHz / 1000) &+ 1)) : 0
                if ms > 0 {
                    let before = weft_rdtsc()
                    if blockUntilReadable(timeoutMs: ms) > 0 { stats.wakeups &+= 1 }
                    stats.sleeps &+= 1
                    stats.sleepClocks &+= weft_rdtsc() &- before
                }
            } else if pollMode == .busy {
                weft_cpu_relax()
            }
        }
    }

    /// Sleeps in poll(2) for at most `timeoutMs` (until the next idle housekeeping);
    /// a packet on any input or a barrier request wakes it at once. Returns
    /// poll's result (> 0: something was readable).
    private func blockUntilReadable(timeoutMs: Int32) -> Int32 {
        let fds = [wakeFd] + inputs.flatMap(\.pollDescriptors)
        let rc = fds.withUnsafeBufferPointer { weft_poll_readable($0.baseAddress, Int32($0.count), timeoutMs) }
        if rc == -ENOMEM { usleep(1000) }  // the shim could not allocate its pollfd array: do not spin
        weft_wake_drain(wakeFd)
        return rc
    }
}
