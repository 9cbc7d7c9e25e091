import XCTest
import WeftTestSupport
import WeftEngine
import WeftIO
import WeftL2
import WeftPacket
@testable import WeftIP4

/// ip4-local's UDP port table: UDP to a registered port goes to its node.
final class IP4LocalPortsTests: XCTestCase {
    /// Stands in for a listener such as vxlan4-input: keeps what it gets.
    final class SinkNode: GraphNode {
        enum Error: String, NodeError {
            case received = "received"
            var help: String { "packets received" }
        }
        var ports: [UInt16] = []
        init() { super.init(registration: NodeRegistration(name: "test-sink", next: NoNext.self, errors: Error.self)) }
        override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
            for i in 0..<count {
                let bi = vector[i]
                let ip = graph.data(bi) + Int(graph.metadata[Int(bi)].l3Offset)
                ports.append(UDP.destinationPort(ip + IPv4.headerLength(ip)))
            }
            graph.buffers.free(vector, count: count)
        }
    }

    func testRegisterIsRefcountedAndExclusive() {
        let p = IP4LocalPorts()
        XCTAssertNil(p.owner(port: 4789))
        XCTAssertTrue(p.register(port: 4789, node: 7))
        XCTAssertTrue(p.register(port: 4789, node: 7))
        XCTAssertFalse(p.register(port: 4789, node: 8), "owned by another node")
        XCTAssertEqual(p.referenceCount(port: 4789), 2)
        XCTAssertEqual(p.registeredPorts, [4789])
        p.unregister(port: 4789)
        XCTAssertEqual(p.owner(port: 4789), 7)
        p.unregister(port: 4789)
        XCTAssertNil(p.owner(port: 4789))
        XCTAssertEqual(p.node[4789], -1)
        p.unregister(port: 4789)
        XCTAssertEqual(p.referenceCount(port: 4789), 0, "never below 0")
        XCTAssertEqual(p.registeredPorts, [])
    }

    func testUDPToARegisteredPortGoesToItsNode() throws {
        let l2 = L2Feature(macTableCapacity: 1024)
        let ip4 = try IP4Feature(fibTables: 2, groupCapacity: 256, adjacencyCapacity: 256, neighbourCapacity: 256)
        let sink = SinkNode()
        let g = try EmbeddedGraph { l2.register(in: $0); ip4.register(in: $0); $0.register(sink) }
        let p1 = g.addInterface("pg1")
        let router = Pkt.ip("10.0.1.1"), host = Pkt.ip("10.0.1.10")
        let rMAC: UInt64 = 0x02_00_00_00_01_01, hMAC: UInt64 = 0x02_AA_00_00_00_0A
        try ip4.setAddress(router, prefixLength: 24, interface: p1, mac: rMAC)
        try ip4.addNeighbour(host, mac: hMAC, interface: p1)
        XCTAssertTrue(ip4.localPorts.register(port: 4789, node: sink.index))
        func udp(_ port: UInt16) -> [UInt8] {
            Pkt.ether(dst: rMAC, src: hMAC, Pkt.ipv4(src: host, dst: router, payload: Pkt.udp(dport: port, [1, 2, 3, 4])))
        }
        g.inject([udp(4789), udp(53), udp(4789)], on: p1)
        g.run()
        XCTAssertEqual(sink.ports, [4789, 4789])
        XCTAssertEqual(g.graph.errorCount(node: "ip4-local", error: "udp-no-listener"), 1, "port 53: port unreachable")
        // A UDP header that does not fit: not handed to the listener, a UDP error (no answer).
        let short = Pkt.ether(dst: rMAC, src: hMAC, Pkt.ipv4(src: host, dst: router, payload: [0x12, 0xB5, 0x12, 0xB5]))
        g.inject([Pkt.padded(short)], on: p1)
        g.run()
        XCTAssertEqual(sink.ports.count, 2)
        XCTAssertEqual(g.graph.errorCount(node: "ip4-local", error: "udp-bad-length"), 1)
        XCTAssertEqual(g.graph.errorCount(node: "ip4-local", error: "udp-no-listener"), 1)
        ip4.localPorts.unregister(port: 4789)
        g.inject([udp(4789)], on: p1)
        g.run()
        XCTAssertEqual(sink.ports.count, 2)
        XCTAssertEqual(g.graph.errorCount(node: "ip4-local", error: "udp-no-listener"), 2)
        XCTAssertEqual(g.buffersInFlight, 0)
    }
}
