import Dispatch
import WeftEngine

/// One capture: the worker fills `capture`'s ring, a timer on a private
/// queue drains it into `writer` every 10 ms (BPF filter there, not on the
/// worker) and flushes the file. `count` packets written ends it.
public final class PcapCaptureSession: @unchecked Sendable {
    public enum State: String, Sendable {
        case running
        /// `count` packets were written; the file is closed.
        case done
        /// Stopped on request; the file is closed.
        case stopped
    }

    public struct Statistics: Sendable, Equatable {
        public var state: State
        public var captured: UInt64
        public var written: UInt64
        public var filteredOut: UInt64
        public var overrun: UInt64
    }

    public let capture: PacketCapture
    /// The graph node whose incoming vectors are captured.
    public let node: Int32
    public let count: UInt64
    private let writer: PcapWriter
    private let queue = DispatchQueue(label: "weft.capture.drain")
    private var timer: DispatchSourceTimer?
    private var state = State.running
    /// Description for status answers (control thread).
    public var interface: String?
    public var direction: String?
    public var nodeName: String = ""
    /// Whether the graph hook was removed (control thread).
    public var unhooked = false
    /// Whether a stop request already returned the final status (control thread).
    public var stopReported = false

    public init(capture: PacketCapture, node: Int32, writer: PcapWriter, count: UInt64) {
        self.capture = capture
        self.node = node
        self.writer = writer
        self.count = count
    }

    public var path: String { writer.path }
    public var filter: String? { writer.filter }

    /// Starts the drain timer (every `intervalMilliseconds`).
    public func start(intervalMilliseconds: Int = 10) {
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + .milliseconds(intervalMilliseconds), repeating: .milliseconds(intervalMilliseconds))
        t.setEventHandler { [weak self] in self?.drainOnce() }
        timer = t
        t.resume()
    }

    /// Drains the ring into the file (the timer's work; tests call it directly).
    public func drain() { queue.sync { drainOnce() } }

    private func drainOnce() {
        guard state == .running else { return }
        let writer = self.writer, count = self.count
        var reached = false
        // Keep draining while the ring fills faster than the timer empties
        // it (a busy node): fewer overruns, bounded time on the queue.
        var rounds = 0
        var drained = 0
        repeat {
            drained = capture.drain { p, cap, wire, sec, usec in
                if reached { return }
                if writer.write(p, capturedLength: cap, wireLength: wire, seconds: sec, microseconds: usec),
                   count != 0 && writer.written >= count {
                    reached = true
                }
            }
            rounds += 1
        } while !reached && drained >= capture.slotCount / 4 && rounds < 64
        writer.flush()
        if reached { finish(.done) }
    }

    private func finish(_ final: State) {
        capture.stop()
        timer?.cancel()
        timer = nil
        writer.close()
        state = final
    }

    /// Stops capturing, writes what the ring still holds and closes the file.
    /// Call after the graph hook is removed, so nothing more arrives.
    @discardableResult
    public func stop() -> Statistics {
        queue.sync {
            if state == .running {
                drainOnce()
                if state == .running { finish(.stopped) }
            }
            return snapshot()
        }
    }

    public func statistics() -> Statistics { queue.sync { snapshot() } }

    private func snapshot() -> Statistics {
        Statistics(state: state, captured: capture.captured, written: writer.written,
                   filteredOut: writer.filteredOut, overrun: capture.overrun)
    }
}
