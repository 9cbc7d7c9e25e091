#if canImport(Glibc)
import Glibc
#endif
import XCTest
import CShims
import WeftEngine
import WeftPacket
import WeftTestSupport
@testable import WeftIO
@testable import WeftL2

/// tap-input/tap-output on socket pairs standing in for TAP queues: a
/// SOCK_SEQPACKET pair keeps frame boundaries the way a TAP fd does, one
/// frame (virtio-net header first) per read or write.
final class TapNodeTests: XCTestCase {
    var g: EmbeddedGraph!
    var taps: TapPorts!
    var tapInput: TapInputNode!
    /// The "container" ends of the two TAP ports.
    var peerA: Int32 = -1, peerB: Int32 = -1
    var ifA: UInt32 = 0, ifB: UInt32 = 0

    override func setUpWithError() throws {
        let l2 = L2Feature(macTableCapacity: 1024)
        let taps = TapPorts()
        let input = TapInputNode(ports: taps), output = TapOutputNode(ports: taps)
        g = try EmbeddedGraph { graph in
            graph.register(input)
            graph.register(output)
            l2.register(in: graph)
        }
        self.taps = taps
        tapInput = input
        l2.domains.create(id: 1, learnLimit: 100, macAgeSeconds: 300)
        for k in 0..<2 {
            var sv: [Int32] = [-1, -1]
            XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &sv), 0)
            // Room for a burst of 300 frames in flight each way.
            var size: Int32 = 4 << 20
            for fd in sv { setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(4)) }
            let slot = try taps.add(queueFds: [sv[0]])
            let i = g.interfaces.add(name: "tap\(k)", driver: "tap", mac: [2, 0, 0, 0, 0, UInt8(k)], mtu: 1500,
                                     outputNode: output.index, driverInstance: slot)!
            XCTAssertTrue(l2.attach(i, to: 1, interfaces: g.interfaces))
            taps.activate(slot, swIfIndex: i)
            if k == 0 { peerA = sv[1]; ifA = i } else { peerB = sv[1]; ifB = i }
        }
    }

    override func tearDown() {
        close(peerA); close(peerB)
        XCTAssertEqual(g.graph.framesInUse, 0)
    }

    /// virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset (native order).
    static func vnet(flags: UInt8 = 0, gso: UInt8 = 0, csumStart: UInt16 = 0, csumOffset: UInt16 = 0) -> [UInt8] {
        [flags, gso, 0, 0, 0, 0] + withUnsafeBytes(of: csumStart) { Array($0) } + withUnsafeBytes(of: csumOffset) { Array($0) }
    }

    func write(_ fd: Int32, _ bytes: [UInt8]) { XCTAssertEqual(Glibc.write(fd, bytes, bytes.count), bytes.count) }

    func readAll(_ fd: Int32) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
            if n <= 0 { return out }
            out.append(Array(buf[0..<n]))
        }
    }

    func pump() {
        g.graph.poll(tapInput)
        g.graph.dispatchPending()
    }

    let macA: UInt64 = 0x02_00_00_00_00_0A, macB: UInt64 = 0x02_00_00_00_00_0B

    func testFrameCrossesFromOneTapToTheOtherByteExact() {
        let ip = Pkt.udpPacket(src: Pkt.ip("10.0.0.1"), dst: Pkt.ip("10.0.0.2"), sport: 1000, dport: 2000)
        let frame = Pkt.ether(dst: macB, src: macA, ip)
        write(peerA, Self.vnet() + frame)
        pump()
        let got = readAll(peerB)
        XCTAssertEqual(got, [Self.vnet() + frame], "header of zeros, then the frame unchanged")
        XCTAssertEqual(g.interfaces.rxPackets[Int(ifA)], 1)
        XCTAssertEqual(g.interfaces.txPackets[Int(ifB)], 1)
        XCTAssertEqual(g.interfaces.txBytes[Int(ifB)], UInt64(frame.count))
        XCTAssertEqual(g.buffersInFlight, 1, "nothing leaked: only the spare buffer the next read goes into")
    }

    /// A sender with checksum offload leaves the UDP checksum partial (the
    /// pseudo-header sum) and says so in the header: the frame must leave
    /// with the full checksum and a header that asks for nothing.
    func testPartialChecksumIsCompletedOnOutput() {
        let src = Pkt.ip("10.0.0.1"), dst = Pkt.ip("10.0.0.2")
        var ip = Pkt.udpPacket(src: src, dst: dst, sport: 1000, dport: 2000, [9, 8, 7, 6, 5, 4, 3])
        let full = ip
        // Replace the checksum with the folded pseudo-header sum, as a kernel with offload does.
        let udpLength = UInt32(ip.count - 20)
        var sum = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + 17 + udpLength
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        ip[26] = UInt8(sum >> 8); ip[27] = UInt8(sum & 0xFF)
        XCTAssertNotEqual(ip, full)
        write(peerA, Self.vnet(flags: UInt8(WEFT_VNET_F_NEEDS_CSUM), csumStart: 34, csumOffset: 6) + Pkt.ether(dst: macB, src: macA, ip))
        pump()
        XCTAssertEqual(readAll(peerB), [Self.vnet() + Pkt.ether(dst: macB, src: macA, full)])
    }

    func testGSOAndRuntFramesAreDroppedUnderTheirCounters() {
        let frame = Pkt.ether(dst: macB, src: macA, Pkt.udpPacket(src: 1, dst: 2, sport: 1, dport: 2))
        write(peerA, Self.vnet(gso: 1) + frame)
        write(peerA, Self.vnet() + [1, 2, 3])
        write(peerA, Self.vnet() + frame)
        pump()
        XCTAssertEqual(g.graph.errorCount(node: "tap-input", error: "gso-frame"), 1)
        XCTAssertEqual(g.graph.errorCount(node: "tap-input", error: "runt"), 1)
        XCTAssertEqual(readAll(peerB).count, 1, "the good frame still goes through")
        XCTAssertEqual(g.buffersInFlight, 1, "only the spare read buffer is held")
    }

    /// The container end going away (its namespace deleted) must not make the
    /// worker spin on an error: the queue is marked gone and no longer polled.
    func testQueueWhosePeerIsGoneIsRetired() {
        XCTAssertEqual(taps.descriptors.count, 2)
        close(peerA); peerA = -1
        pump()
        XCTAssertEqual(g.graph.errorCount(node: "tap-input", error: "queue-gone"), 1)
        XCTAssertEqual(taps.descriptors.count, 1)
        pump()
        XCTAssertEqual(g.graph.errorCount(node: "tap-input", error: "queue-gone"), 1, "not read again")
    }

    func testABurstLargerThanAVectorIsReadInVectors() {
        let frame = Pkt.ether(dst: macB, src: macA, Pkt.udpPacket(src: 1, dst: 2, sport: 1, dport: 2))
        for _ in 0..<300 { write(peerA, Self.vnet() + frame) }
        XCTAssertEqual(g.graph.poll(tapInput), 256, "one vector per queue per poll")
        g.graph.dispatchPending()
        XCTAssertEqual(g.graph.poll(tapInput), 44)
        g.graph.dispatchPending()
        XCTAssertEqual(readAll(peerB).count, 300)
    }
}
