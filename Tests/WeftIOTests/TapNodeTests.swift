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
    static func vnet(flags: UInt8 = 0, gso: UInt8 = 0, hdrLen: UInt16 = 0, gsoSize: UInt16 = 0, csumStart: UInt16 = 0,
                     csumOffset: UInt16 = 0) -> [UInt8] {
        [flags, gso] + [hdrLen, gsoSize, csumStart, csumOffset].flatMap { v in withUnsafeBytes(of: v) { Array($0) } }
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

    /// A GSO header that does not describe TCPv4 with a partial checksum is
    /// dropped under its counter; runts too; the good frame still passes.
    func testBadGSOAndRuntFramesAreDroppedUnderTheirCounters() {
        let frame = Pkt.ether(dst: macB, src: macA, Pkt.udpPacket(src: 1, dst: 2, sport: 1, dport: 2))
        write(peerA, Self.vnet(gso: 1) + frame)                                  // no NEEDS_CSUM, gso_size 0
        write(peerA, Self.vnet(flags: 1, gso: 4, gsoSize: 1400, csumStart: 54, csumOffset: 16) + frame)   // TCPv6
        write(peerA, Self.vnet() + [1, 2, 3])
        write(peerA, Self.vnet() + frame)
        pump()
        XCTAssertEqual(g.graph.errorCount(node: "tap-input", error: "gso-bad-header"), 2)
        XCTAssertEqual(g.graph.errorCount(node: "tap-input", error: "runt"), 1)
        XCTAssertEqual(readAll(peerB).count, 1, "the good frame still goes through")
        XCTAssertEqual(g.buffersInFlight, 1, "only the spare read buffer is held")
    }

    /// A TCP super-frame as the pod's kernel hands a TSO-capable TAP: partial
    /// checksum (the pseudo-header sum), one header, all the payload.
    func superFrame(_ payload: Int, seq: UInt32 = 1_000_000, sport: UInt16 = 40000) -> [UInt8] {
        let a = Pkt.ip("10.0.0.1"), b = Pkt.ip("10.0.0.2")
        let data = (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
        var ip = Pkt.ipv4(src: a, dst: b, proto: 6, id: 0x4000, flags: 0x4000,
                          payload: Pkt.tcp(src: a, dst: b, sport: sport, dport: 5201, seq: seq, ack: 77, flags: 0x18, data))
        let tcpLength = UInt32(ip.count - 20)
        var sum = (a >> 16) + (a & 0xFFFF) + (b >> 16) + (b & 0xFFFF) + 6 + tcpLength
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        ip[36] = UInt8(sum >> 8); ip[37] = UInt8(sum & 0xFF)
        return Pkt.ether(dst: macB, src: macA, ip)
    }

    static let gsoHeader = vnet(flags: UInt8(WEFT_VNET_F_NEEDS_CSUM), gso: UInt8(WEFT_VNET_GSO_TCPV4), hdrLen: 54,
                                gsoSize: 1448, csumStart: 34, csumOffset: 16)

    func readLarge(_ fd: Int32) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 70_000)
        while true {
            let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
            if n <= 0 { return out }
            out.append(Array(buf[0..<n]))
        }
    }

    /// TAP to TAP: the super-frame is read into a chain and written whole,
    /// header and bytes as they came (the checksum still partial, for the
    /// receiving kernel); nothing is segmented.
    func testSuperFrameCrossesTapToTapWhole() {
        g.interfaces.takesLargeFrames[Int(ifB)] = 1
        for payload in [1449, 10_000, 65_000] {
            let frame = superFrame(payload)
            write(peerA, Self.gsoHeader + frame)
            pump()
            let got = readLarge(peerB)
            XCTAssertEqual(got.count, 1, "\(payload)")
            XCTAssertEqual(got.first, Self.gsoHeader + frame, "\(payload): header with the GSO fields, then the frame unchanged")
            XCTAssertEqual(g.interfaces.txBytes[Int(ifB)] > 0, true)
        }
        XCTAssertEqual(g.graph.errorCount(node: "tap-input", error: "gso-frames"), 3)
        XCTAssertEqual(g.graph.errorCount(node: "gso-segment", error: "segmented"), 0)
        XCTAssertEqual(g.buffersInFlight, 1, "every chain freed: only the spare read buffer is held")
    }

    /// TAP to a port that takes one buffer per frame: gso-segment cuts it into
    /// the segments GSOSegmentation makes (byte-exact), each with a header of
    /// zeros, in order.
    func testSuperFrameToAnotherPortIsSegmented() throws {
        g.interfaces.takesLargeFrames[Int(ifB)] = 0
        let frame = superFrame(10_000)
        write(peerA, Self.gsoHeader + frame)
        pump()
        let got = readLarge(peerB)
        let expected = try frame.withUnsafeBytes { f -> [[UInt8]] in
            let layout = try GSOSegmentation.parse(f.baseAddress!, length: frame.count, kind: .tcp4, checksumStart: 34).get()
            let n = GSOSegmentation.segmentCount(layout: layout, length: frame.count, segmentSize: 1448)
            var buf = [UInt8](repeating: 0, count: 2048)
            return (0..<n).map { k in
                let len = buf.withUnsafeMutableBytes {
                    GSOSegmentation.writeSegment(k, of: f.baseAddress!, length: frame.count, layout: layout, segmentSize: 1448, to: $0.baseAddress!)
                }
                return Self.vnet() + buf[0..<len]
            }
        }
        XCTAssertEqual(got.count, 7)
        XCTAssertEqual(got, expected)

        // The trace shows the GSO fields at input and the cut at gso-segment.
        g.graph.trace.arm(node: tapInput.index, count: 1)
        write(peerA, Self.gsoHeader + frame)
        pump()
        _ = readLarge(peerB)
        let lines = g.graph.trace.snapshot().map { g.graph.nodes[Int($0.node)].formatTrace($0) }
        XCTAssertTrue(lines.contains("tap-input: sw_if_index \(ifA), \(frame.count) bytes csum-partial gso tcp4 segment 1448"), "\(lines)")
        XCTAssertTrue(lines.contains("gso-segment: \(frame.count) bytes into 7 segments of 1448"), "\(lines)")
        for seg in got { XCTAssertLessThanOrEqual(seg.count - 10 - 14, 1500) }
        XCTAssertEqual(g.graph.errorCount(node: "gso-segment", error: "segmented"), 14)
        XCTAssertEqual(g.buffersInFlight, 1)
    }

    /// Bursts that mix super-frames (chains) and single-buffer frames keep
    /// their order and bytes across vector boundaries (1, 255, 256, 257).
    func testMixedBurstsKeepOrder() {
        g.interfaces.takesLargeFrames[Int(ifB)] = 1
        for burst in [1, 255, 256, 257] {
            var sent: [[UInt8]] = []
            for k in 0..<burst {
                let message = k % 16 == 3 ? Self.gsoHeader + superFrame(5000, seq: UInt32(k))
                                          : Self.vnet() + Pkt.ether(dst: macB, src: macA, Pkt.udpPacket(src: 1, dst: 2, sport: UInt16(k), dport: 9))
                write(peerA, message)
                sent.append(message)
            }
            var got: [[UInt8]] = []
            for _ in 0..<4 { pump(); got += readLarge(peerB) }
            XCTAssertEqual(got.count, burst, "burst \(burst)")
            XCTAssertEqual(got, sent, "burst \(burst)")
        }
        XCTAssertEqual(g.buffersInFlight, 1)
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
