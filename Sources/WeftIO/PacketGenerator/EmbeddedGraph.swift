import WeftEngine

/// A complete graph with no I/O, driven by hand (SwiftNIO's EmbeddedChannel
/// idea applied to the dataplane): pg interfaces stand in for devices,
/// `run()` polls pg-input and dispatches until nothing is pending. Used by
/// the node tests and by weft-bench; the per-packet code is the real one.
public final class EmbeddedGraph {
    public let pool: BufferPool
    public let interfaces: InterfaceTable
    public let graph: Graph
    public let pgInput: PgInputNode
    public let pgOutput: PgOutputNode

    /// `features` registers the nodes under test (e.g. `L2Feature.register`).
    public init(buffers: Int = 8192, frames: Int = 512, features: (Graph) -> Void) throws {
        pool = BufferPool(count: buffers)
        interfaces = InterfaceTable()
        graph = Graph(pool: pool, interfaces: interfaces, frameCapacity: frames)
        graph.register(ErrorDropNode())
        pgInput = PgInputNode()
        pgOutput = PgOutputNode()
        graph.register(pgInput)
        graph.register(pgOutput)
        features(graph)
        try graph.finalize()
    }

    /// Adds a pg interface whose transmit side is pg-output.
    public func addInterface(_ name: String, mtu: Int = 1500) -> UInt32 {
        interfaces.add(name: name, driver: "pg", mac: [2, 0, 0, 0, 0, 0], mtu: mtu,
                       outputNode: pgOutput.index, driverInstance: -1)!
    }

    /// Queues `frames` as received on `rx`, all in one burst of up to 256,
    /// each with the metadata `flags` a driver would set.
    public func inject(_ frames: [[UInt8]], on rx: UInt32, flags: BufferFlags = []) {
        pgInput.add(PacketStream(frames: frames, rxInterface: rx, flags: flags))
    }

    /// Polls and dispatches until every stream is exhausted and nothing is pending.
    public func run(maxPolls: Int = 1_000_000) {
        var polls = 0
        while polls < maxPolls {
            graph.poll(pgInput)
            graph.dispatchPending()
            polls += 1
            if pgInput.isIdle && graph.framesInUse == 0 { break }
        }
        pgInput.removeAllStreams()
    }

    /// Buffers not in any free list (should be 0 when idle: nothing leaked).
    public var buffersInFlight: Int { pool.count - pool.sharedFree - graph.buffers.cachedCount }
}
