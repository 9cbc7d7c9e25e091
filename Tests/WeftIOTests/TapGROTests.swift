#if canImport(Glibc)
import Glibc
#endif
import XCTest
import CShims
import WeftEngine
import WeftPacket
import WeftTestSupport
@testable import WeftIO

/// GROCoalescer at tap-output: MTU-sized segments of one TCP flow (as they
/// arrive from a tunnel or an uplink) leave as the super-frame they were cut
/// from; anything that must not be joined is passed on unchanged.
extension TapNodeTests {
    /// The segments GSOSegmentation cuts `frame` into (complete checksums).
    func segments(of frame: [UInt8], size: Int = 1448) throws -> [[UInt8]] {
        try frame.withUnsafeBytes { f -> [[UInt8]] in
            let layout = try GSOSegmentation.parse(f.baseAddress!, length: frame.count, kind: .tcp4, checksumStart: 34).get()
            let n = GSOSegmentation.segmentCount(layout: layout, length: frame.count, segmentSize: size)
            var buf = [UInt8](repeating: 0, count: 2048)
            return (0..<n).map { k in
                let len = buf.withUnsafeMutableBytes {
                    GSOSegmentation.writeSegment(k, of: f.baseAddress!, length: frame.count, layout: layout, segmentSize: size, to: $0.baseAddress!)
                }
                return Array(buf[0..<len])
            }
        }
    }

    func send(_ frames: [[UInt8]]) -> [[UInt8]] {
        for f in frames { write(peerA, Self.vnet() + f) }
        pump()
        return readLarge(peerB)
    }

    /// Seven segments of a 10,000-byte send, one vector: one frame out, the
    /// original super-frame byte for byte (PSH from the last segment, the
    /// first one's IP id, the partial checksum of the whole) with its GSO header.
    func testSegmentsOfOneFlowLeaveAsTheSuperFrameTheyWereCutFrom() throws {
        g.interfaces.takesLargeFrames[Int(ifB)] = 1
        let frame = superFrame(10_000)
        let segs = try segments(of: frame)
        XCTAssertEqual(segs.count, 7)
        let got = send(segs)
        XCTAssertEqual(got.count, 1)
        XCTAssertEqual(got.first, Self.gsoHeader + frame)
        XCTAssertEqual(g.graph.errorCount(node: "tap-output", error: "gro-merged"), 6)
        XCTAssertEqual(g.interfaces.txPackets[Int(ifB)], 1)
        XCTAssertEqual(g.interfaces.txBytes[Int(ifB)], UInt64(frame.count))
        XCTAssertEqual(g.buffersInFlight, 1, "the chain freed whole: only the spare read buffer is held")
    }

    /// A segment with a wrong checksum is never hidden in a run: it leaves on
    /// its own, unchanged, and the runs before and after it are joined.
    func testSegmentWithAWrongChecksumIsNotJoined() throws {
        g.interfaces.takesLargeFrames[Int(ifB)] = 1
        var segs = try segments(of: superFrame(10_000))
        segs[3][100] ^= 0x40
        let got = send(segs)
        XCTAssertEqual(got.count, 3)
        XCTAssertEqual(got[1], Self.vnet() + segs[3], "the bad segment as it came, for the receiver's kernel to drop")
        for (k, first) in [(0, 0), (2, 4)] {
            let h = got[k]
            XCTAssertEqual(Array(h[0..<10]), Self.vnet(flags: UInt8(WEFT_VNET_F_NEEDS_CSUM), gso: UInt8(WEFT_VNET_GSO_TCPV4),
                                                          hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16))
            XCTAssertEqual(Array(h[10 + 38..<10 + 42]), Array(segs[first][38..<42]), "sequence number of its first segment")
        }
        XCTAssertEqual(got[0].count, 10 + 54 + 3 * 1448)
        XCTAssertEqual(got[2].count, 10 + 54 + 10_000 - 4 * 1448)
        XCTAssertEqual(g.graph.errorCount(node: "tap-output", error: "gro-merged"), 4)
        XCTAssertEqual(g.buffersInFlight, 1)
    }

    /// Out of order, or to a port that takes one buffer per frame: nothing is
    /// joined and every segment leaves byte-exact, in the order it came.
    func testOutOfOrderSegmentsAndSingleBufferPortsAreLeftAlone() throws {
        let segs = try segments(of: superFrame(5_000))
        g.interfaces.takesLargeFrames[Int(ifB)] = 1
        let shuffled = [segs[0], segs[2], segs[1], segs[3]]
        XCTAssertEqual(send(shuffled), shuffled.map { Self.vnet() + $0 })
        g.interfaces.takesLargeFrames[Int(ifB)] = 0
        XCTAssertEqual(send(segs), segs.map { Self.vnet() + $0 })
        XCTAssertEqual(g.graph.errorCount(node: "tap-output", error: "gro-merged"), 0)
        XCTAssertEqual(g.buffersInFlight, 1)
    }

    /// Two flows interleaved in one vector: each becomes its own super-frame.
    func testInterleavedFlowsAreJoinedEachIntoItsOwn() throws {
        g.interfaces.takesLargeFrames[Int(ifB)] = 1
        let a = superFrame(4_000, seq: 1_000_000), b = superFrame(4_000, seq: 7_000_000, sport: 40001)
        let sa = try segments(of: a), sb = try segments(of: b)
        let got = send(zip(sa, sb).flatMap { [$0, $1] })
        XCTAssertEqual(got, [Self.gsoHeader + a, Self.gsoHeader + b])
        XCTAssertEqual(g.buffersInFlight, 1)
    }
}
