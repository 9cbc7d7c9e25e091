import WeftEngine

/// pg-input: the in-memory packet generator (tests and benchmarks). Each poll
/// emits one burst from each active stream into ethernet-input, as if the
/// frames had been received on the stream's interface.
///
/// Sets: dataOffset, length, rxInterface, flags (cleared), traced selection.
public final class PgInputNode: GraphNode {
    public enum Next: String, NodeNext {
        case ethernetInput = "ethernet-input"
    }

    public enum Error: String, NodeError {
        case noBuffers = "no-buffers"
        public var help: String { "packets not generated: buffer pool empty" }
    }

    public static let registration = NodeRegistration(name: "pg-input", kind: .input, next: Next.self, errors: Error.self)

    public private(set) var streams: [PacketStream] = []
    var toEthernet = Int32(0)
    var errNoBuffers = UInt32(0)

    public init() { super.init(registration: Self.registration) }

    public override func didResolve(_ graph: Graph) {
        toEthernet = nextIndex(Next.ethernetInput)
        errNoBuffers = errorIndex(Error.noBuffers)
    }

    /// Control thread (or the test harness with no worker running).
    public func add(_ stream: PacketStream) { streams.append(stream) }
    public func removeAllStreams() { streams.removeAll() }
    public var isIdle: Bool { streams.allSatisfy { $0.remaining == 0 } }

    public override func poll(_ graph: Graph) -> Int {
        var total = 0
        for s in streams {
            var n = s.burst
            if let r = s.remaining { n = min(n, r) }
            if n == 0 { continue }
            total += generate(graph, s, n)
        }
        return total
    }

    @inline(__always)
    private func generate(_ graph: Graph, _ s: PacketStream, _ n: Int) -> Int {
        let md = graph.metadata
        let rx = s.rxInterface
        let flags = s.flags
        var traceBudget = graph.trace.remaining(index)
        var made = 0
        var bytes = 0
        var out = NextCursor(to: toEthernet)
        defer { graph.close(&out) }
        for _ in 0..<n {
            let bi = graph.buffers.alloc()
            if _slowPath(bi == BufferPool.invalid) { graph.count(errNoBuffers); break }
            let m = md + Int(bi)
            let length = s.fill(graph.data(bi) + BufferPool.headroom)
            m.pointee.dataOffset = UInt16(BufferPool.headroom)
            m.pointee.length = UInt16(truncatingIfNeeded: length)
            m.pointee.rxInterface = rx
            m.pointee.flags = flags
            bytes &+= length
            if _slowPath(traceBudget > 0) {
                let id = graph.trace.select(m, node: index)
                graph.trace.add(TraceRecord(packet: id, node: index, a: UInt64(rx), b: UInt64(length)))
                traceBudget -= 1
            }
            graph.put(bi, &out)
            made += 1
        }
        if s.remaining != nil { s.remaining! -= made }
        graph.interfaces.rxPackets[Int(rx)] &+= UInt64(made)
        graph.interfaces.rxBytes[Int(rx)] &+= UInt64(bytes)
        graph.countBytes(index, Int(bytes))
        return made
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        "pg-input: stream on sw_if_index \(r.a), \(r.b) bytes"
    }
}
