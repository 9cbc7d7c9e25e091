import WeftEngine
import WeftIO

/// What the node tests of every feature ask of the embedded graph: the named
/// error counters that moved, and one "frames in, frames out + counters" step.
extension EmbeddedGraph {
    /// Non-zero error counters as "node/name" -> count.
    public func counters() -> [String: UInt64] {
        var d: [String: UInt64] = [:]
        for (i, e) in graph.errorNames.enumerated() where graph.errorCounters[i] != 0 {
            d["\(e.node)/\(e.name)"] = graph.errorCounters[i]
        }
        return d
    }

    /// Counters that changed since `before`, by how much.
    public func counterDelta(since before: [String: UInt64]) -> [String: UInt64] {
        var d: [String: UInt64] = [:]
        for (k, v) in counters() where v != before[k, default: 0] { d[k] = v - before[k, default: 0] }
        return d
    }

    /// Sends `frames` in on `rx`, runs, returns the frames out per interface and the counter changes.
    public func send(_ frames: [[UInt8]], on rx: UInt32, flags: BufferFlags = []) -> (out: [UInt32: [[UInt8]]], counters: [String: UInt64]) {
        pgOutput.clearCapture()
        let before = counters()
        inject(frames, on: rx, flags: flags)
        run()
        return (pgOutput.captured, counterDelta(since: before))
    }
}
