import XCTest
@testable import WeftEngine

/// Test nodes: a source that emits numbered buffers, a relay that passes
/// even numbers on and drops odd ones (when asked), and a sink that records order.
private final class SourceNode: GraphNode {
    enum Next: String, NodeNext { case relay = "test-relay" }
    var pending: [UInt32] = []
    var toRelay = Int32(0)
    init() { super.init(registration: NodeRegistration(name: "test-source", kind: .input, next: Next.self, errors: NoError.self)) }
    override func didResolve(_ graph: Graph) { toRelay = nextIndex(Next.relay) }
    override func poll(_ graph: Graph) -> Int {
        let n = pending.count
        for seq in pending {
            let bi = graph.buffers.alloc()
            graph.data(bi).storeBytes(of: seq, as: UInt32.self)
            graph.metadata[Int(bi)].dataOffset = 0
            graph.metadata[Int(bi)].length = 4
            if graph.trace.remaining(index) > 0 { _ = graph.trace.select(graph.metadata + Int(bi), node: index) }
            graph.enqueue(bi, to: toRelay)
        }
        pending.removeAll()
        return n
    }
}

private final class RelayNode: GraphNode {
    enum Next: String, NodeNext { case sink = "test-sink"; case drop = "error-drop" }
    enum Error: String, NodeError { case odd = "odd"; var help: String { "odd sequence numbers" } }
    var dropOdd = false
    var toSink = Int32(0), errOdd = UInt32(0)
    var largestVector = 0
    init() { super.init(registration: NodeRegistration(name: "test-relay", next: Next.self, errors: Error.self)) }
    override func didResolve(_ graph: Graph) { toSink = nextIndex(Next.sink); errOdd = errorIndex(Error.odd) }
    override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        largestVector = max(largestVector, count)
        for i in 0..<count {
            let bi = vector[i]
            let seq = graph.data(bi).load(as: UInt32.self)
            graph.traceIfSelected(bi, node: index, a: UInt64(seq))
            if dropOdd && seq % 2 == 1 { graph.drop(bi, error: errOdd) } else { graph.enqueue(bi, to: toSink) }
        }
    }
    override func formatTrace(_ record: TraceRecord) -> String { "relay \(record.a)" }
}

private final class SinkNode: GraphNode {
    var received: [UInt32] = []
    init() { super.init(registration: NodeRegistration(name: "test-sink", next: NoNext.self, errors: NoError.self)) }
    override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        for i in 0..<count { received.append(graph.data(vector[i]).load(as: UInt32.self)) }
        graph.buffers.free(vector, count: count)
    }
}

final class GraphDispatchTests: XCTestCase {
    private func makeGraph() throws -> (Graph, SourceNode, RelayNode, SinkNode, BufferPool) {
        let pool = BufferPool(count: 4096)
        let graph = Graph(pool: pool, interfaces: InterfaceTable())
        let source = SourceNode(), relay = RelayNode(), sink = SinkNode()
        graph.register(ErrorDropNode())
        graph.register(source); graph.register(relay); graph.register(sink)
        try graph.finalize()
        return (graph, source, relay, sink, pool)
    }

    func testBurstsKeepOrderAndLoseNothing() throws {
        for burst in [1, 255, 256, 257, 1000] {
            let (graph, source, relay, sink, pool) = try makeGraph()
            source.pending = (0..<UInt32(burst)).map { $0 }
            graph.poll(source)
            graph.dispatchPending()
            XCTAssertEqual(sink.received, (0..<UInt32(burst)).map { $0 }, "burst \(burst)")
            XCTAssertLessThanOrEqual(relay.largestVector, Graph.vectorSize)
            XCTAssertEqual(graph.framesInUse, 0)
            graph.buffers.drain()
            XCTAssertEqual(pool.sharedFree, pool.count, "burst \(burst): every buffer returned")
            // Runtime stats: vectors counted per node.
            XCTAssertEqual(graph.statVectors[Int(relay.index)], UInt64(burst))
            XCTAssertEqual(graph.statCalls[Int(relay.index)], UInt64((burst + 255) / 256))
        }
    }

    func testDropsAreCountedUnderTheirNamedError() throws {
        let (graph, source, relay, sink, pool) = try makeGraph()
        relay.dropOdd = true
        source.pending = (0..<301).map { $0 }
        graph.poll(source)
        graph.dispatchPending()
        XCTAssertEqual(sink.received.count, 151)
        XCTAssertEqual(graph.errorCount(node: "test-relay", error: "odd"), 150)
        graph.buffers.drain()
        XCTAssertEqual(pool.sharedFree, pool.count)
    }

    func testUnknownNextNodeIsReported() {
        let graph = Graph(pool: BufferPool(count: 16), interfaces: InterfaceTable())
        graph.register(RelayNode())   // next "test-sink" missing
        graph.register(ErrorDropNode())
        XCTAssertThrowsError(try graph.finalize()) { error in
            XCTAssertEqual(error as? GraphError, .unknownNextNode(node: "test-relay", next: "test-sink"))
        }
    }

    func testTraceRecordsOnlyTheSelectedPackets() throws {
        let (graph, source, relay, _, _) = try makeGraph()
        source.pending = [1, 2, 3]
        graph.poll(source); graph.dispatchPending()
        XCTAssertTrue(graph.trace.snapshot().isEmpty, "no records while no trace is armed")
        graph.trace.arm(node: source.index, count: 2)
        source.pending = [10, 11, 12, 13]
        graph.poll(source); graph.dispatchPending()
        let records = graph.trace.snapshot().filter { $0.node == relay.index }
        XCTAssertEqual(records.map(\.a), [10, 11])
        XCTAssertEqual(relay.formatTrace(records[0]), "relay 10")
        graph.trace.clear()
        XCTAssertTrue(graph.trace.snapshot().isEmpty)
    }
}
