import XCTest
import WeftTestSupport
@testable import WeftPacket

/// Byte-exact segmentation: every segment compared with the frame a sender
/// segmenting by hand would have built (headers, lengths, ids, sequence
/// numbers, flags, every checksum computed independently by Pkt).
final class GSOSegmentationTests: XCTestCase {
    let a = Pkt.ip("10.1.0.2"), b = Pkt.ip("10.1.0.3")
    let macA: UInt64 = 0x02_00_00_00_00_0A, macB: UInt64 = 0x02_00_00_00_00_0B
    let vtepA = Pkt.ip("192.0.2.1"), vtepB = Pkt.ip("192.0.2.2")

    func payload(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    /// A TCP super-frame as a sender's kernel hands it over: one header, all the payload.
    func tcpFrame(_ data: [UInt8], flags: UInt8 = 0x18, seq: UInt32 = 1_000_000, id: UInt16 = 0x4000) -> [UInt8] {
        Pkt.ether(dst: macB, src: macA, Pkt.ipv4(src: a, dst: b, proto: 6, id: id, flags: 0x4000,
                                                  payload: Pkt.tcp(src: a, dst: b, sport: 40000, dport: 5201, seq: seq, ack: 77, flags: flags, data)))
    }

    func segment(_ frame: [UInt8], kind: GSOSegmentation.Kind = .tcp4, mss: Int, checksumStart: Int? = nil) throws -> [[UInt8]] {
        try frame.withUnsafeBytes { f -> [[UInt8]] in
            let layout = try GSOSegmentation.parse(f.baseAddress!, length: frame.count, kind: kind, checksumStart: checksumStart).get()
            let n = GSOSegmentation.segmentCount(layout: layout, length: frame.count, segmentSize: mss)
            var out: [[UInt8]] = []
            var buf = [UInt8](repeating: 0, count: layout.headerLength + mss)
            for k in 0..<n {
                let len = buf.withUnsafeMutableBytes {
                    GSOSegmentation.writeSegment(k, of: f.baseAddress!, length: frame.count, layout: layout, segmentSize: mss, to: $0.baseAddress!)
                }
                out.append(Array(buf[0..<len]))
            }
            return out
        }
    }

    func testTCPSegmentsAreByteExact() throws {
        let data = payload(4000)
        let segs = try segment(tcpFrame(data, flags: 0x19 | 0x80), mss: 1448, checksumStart: 34)   // FIN|PSH|ACK|CWR
        XCTAssertEqual(segs.count, 3)
        let cuts = [0..<1448, 1448..<2896, 2896..<4000]
        for (k, r) in cuts.enumerated() {
            var flags: UInt8 = 0x10
            if k == 0 { flags |= 0x80 }          // CWR on the first only
            if k == 2 { flags |= 0x09 }          // FIN, PSH on the last only
            let want = Pkt.ether(dst: macB, src: macA, Pkt.ipv4(src: a, dst: b, proto: 6, id: 0x4000 &+ UInt16(k), flags: 0x4000,
                payload: Pkt.tcp(src: a, dst: b, sport: 40000, dport: 5201, seq: 1_000_000 &+ UInt32(r.lowerBound), ack: 77, flags: flags, Array(data[r]))))
            XCTAssertEqual(segs[k], want, "segment \(k)")
            XCTAssertTrue(Pkt.allChecksumsValid(Array(segs[k][14...])))
        }
    }

    func testEdgeSizes() throws {
        // Exactly one MSS: one segment, the frame itself.
        let one = tcpFrame(payload(1448))
        XCTAssertEqual(try segment(one, mss: 1448), [one])
        // One byte over: a last segment of one byte.
        let over = try segment(tcpFrame(payload(1449)), mss: 1448)
        XCTAssertEqual(over.map(\.count), [14 + 40 + 1448, 14 + 40 + 1])
        // A 64 KB frame: 46 segments, sequence numbers contiguous, the wrap of the id and seq handled.
        let big = try segment(tcpFrame(payload(65_483), seq: 0xFFFF_F000, id: 0xFFF0), mss: 1448)
        XCTAssertEqual(big.count, 46)
        var seq: UInt32 = 0xFFFF_F000
        for (k, s) in big.enumerated() {
            XCTAssertEqual(Pkt.u32(s, 38), seq, "seq of \(k)")
            XCTAssertEqual(Pkt.u16(s, 18), 0xFFF0 &+ UInt16(k), "IP id of \(k)")
            XCTAssertTrue(Pkt.allChecksumsValid(Array(s[14...])), "checksums of \(k)")
            seq &+= UInt32(s.count - 54)
        }
        XCTAssertEqual(seq, 0xFFFF_F000 &+ 65_483)
    }

    func testUDPGSOMakesDatagrams() throws {
        let data = payload(3000)
        let frame = Pkt.ether(dst: macB, src: macA, Pkt.ipv4(src: a, dst: b, proto: 17, id: 9, payload: Pkt.udpc(src: a, dst: b, sport: 1, dport: 2, data)))
        let segs = try segment(frame, kind: .udpL4, mss: 1200, checksumStart: 34)
        XCTAssertEqual(segs.count, 3)
        for (k, r) in [0..<1200, 1200..<2400, 2400..<3000].enumerated() {
            let want = Pkt.ether(dst: macB, src: macA, Pkt.ipv4(src: a, dst: b, proto: 17, id: 9 &+ UInt16(k),
                                                                payload: Pkt.udpc(src: a, dst: b, sport: 1, dport: 2, Array(data[r]))))
            XCTAssertEqual(segs[k], want, "datagram \(k)")
        }
    }

    /// The frame a kernel vxlan device hands a veth with tx-udp_tnl-segmentation:
    /// outer headers once, the inner TCP super-frame behind them.
    func testVXLANTunnelFrameSegmentsOuterAndInner() throws {
        let data = payload(3000)
        func vxlan(_ inner: [UInt8], id: UInt16, udpChecksum: Bool) -> [UInt8] {
            let vx: [UInt8] = [0x08, 0, 0, 0, 0, 0x10, 0x92, 0]
            let udp = Pkt.udpc(src: vtepB, dst: vtepA, sport: 51000, dport: 4789, vx + inner, zeroChecksum: !udpChecksum)
            return Pkt.ether(dst: 0x02_00_00_00_00_01, src: 0x02_00_00_00_00_02, Pkt.ipv4(src: vtepB, dst: vtepA, proto: 17, id: id, payload: udp))
        }
        for udpChecksum in [false, true] {
            let frame = vxlan(tcpFrame(data), id: 500, udpChecksum: udpChecksum)
            let segs = try segment(frame, mss: 1398, checksumStart: 50 + 34)
            XCTAssertEqual(segs.count, 3)
            for (k, r) in [0..<1398, 1398..<2796, 2796..<3000].enumerated() {
                let inner = Pkt.ether(dst: macB, src: macA, Pkt.ipv4(src: a, dst: b, proto: 6, id: 0x4000 &+ UInt16(k), flags: 0x4000,
                    payload: Pkt.tcp(src: a, dst: b, sport: 40000, dport: 5201, seq: 1_000_000 &+ UInt32(r.lowerBound), ack: 77,
                                     flags: k == 2 ? 0x18 : 0x10, Array(data[r]))))
                XCTAssertEqual(segs[k], vxlan(inner, id: 500 &+ UInt16(k), udpChecksum: udpChecksum), "segment \(k), outer checksum \(udpChecksum)")
            }
        }
    }

    func testLyingMetadataIsRefused() {
        func refusal(_ frame: [UInt8], _ kind: GSOSegmentation.Kind, _ start: Int?) -> GSOSegmentation.Refusal? {
            frame.withUnsafeBytes {
                if case .failure(let r) = GSOSegmentation.parse($0.baseAddress!, length: frame.count, kind: kind, checksumStart: start) { return r }
                return nil
            }
        }
        let tcp = tcpFrame(payload(100))
        XCTAssertNil(refusal(tcp, .tcp4, 34))
        XCTAssertEqual(refusal(tcp, .tcp4, 40), .inconsistent, "checksum start not at the TCP header")
        XCTAssertEqual(refusal(tcp, .tcp4, 9000), .inconsistent, "checksum start past the end")
        XCTAssertEqual(refusal(tcp, .udpL4, 34), .inconsistent, "UDP GSO of a TCP packet")
        XCTAssertEqual(refusal(Array(tcp.prefix(40)), .tcp4, 34), .unsupported, "TCP header cut")
        XCTAssertEqual(refusal(Pkt.ether(dst: macB, src: macA, type: 0x86DD, [UInt8](repeating: 0x60, count: 60)), .tcp4, nil), .unsupported)
    }
}
