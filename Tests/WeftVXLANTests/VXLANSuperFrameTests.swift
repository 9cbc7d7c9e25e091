import XCTest
import WeftTestSupport
import WeftEngine
import WeftPacket
@testable import WeftVXLAN

/// TCP super-frames into a tunnel: vxlan4-encap makes UDP GSO frames of
/// VXLAN datagrams, each holding one inner segment exactly as gso-segment
/// would have cut it; an underlay that cannot take them gets them cut into
/// ordinary VXLAN packets. Same topology as VXLANNodeTests (tunnel MTU 1500).
extension VXLANNodeTests {
    func tcpSuperFrame(payload: Int) -> [UInt8] {
        Pkt.ether(dst: bMAC, src: aMAC, Pkt.tcpSuperPacket(src: a, dst: b, payload: payload))
    }

    /// bMAC learned on the tunnel, so the super-frame is unicast to it.
    func learnRemoteContainer() {
        _ = send([encapsulated(inner(dst: aMAC, src: bMAC))], on: up0)
    }

    /// The inner segments gso-segment would make of `frame` (the reference cut).
    func referenceSegments(_ frame: [UInt8], segmentSize: Int) -> [[UInt8]] {
        frame.withUnsafeBytes { f -> [[UInt8]] in
            guard case .success(let layout) = GSOSegmentation.parse(f.baseAddress!, length: frame.count, kind: .tcp4, checksumStart: 34) else {
                XCTFail("reference parse"); return []
            }
            let n = GSOSegmentation.segmentCount(layout: layout, length: frame.count, segmentSize: segmentSize)
            return (0..<n).map { k in
                var out = [UInt8](repeating: 0, count: layout.headerLength + segmentSize)
                let len = out.withUnsafeMutableBytes {
                    GSOSegmentation.writeSegment(k, of: f.baseAddress!, length: frame.count, layout: layout, segmentSize: segmentSize, to: $0.baseAddress!)
                }
                return Array(out[0..<len])
            }
        }
    }

    /// Checks the outer headers of one UDP GSO frame and returns its datagrams.
    func datagrams(of out: [UInt8], size: Int, file: StaticString = #filePath, line: UInt = #line) -> [[UInt8]] {
        XCTAssertEqual(Array(out[0..<12]), Pkt.mac(remoteMAC) + Pkt.mac(upMAC), file: file, line: line)
        XCTAssertEqual(Pkt.checksum(out[14..<34]), 0, "outer IPv4 header checksum", file: file, line: line)
        XCTAssertEqual(Int(Pkt.u16(out, 16)), out.count - 14, "IPv4 total length", file: file, line: line)
        XCTAssertEqual(out[23], 17)
        XCTAssertEqual(Array(out[26..<34]), Pkt.be32(local) + Pkt.be32(remote), file: file, line: line)
        XCTAssertEqual(Pkt.u16(out, 36), 4789, file: file, line: line)
        XCTAssertEqual(Int(Pkt.u16(out, 38)), out.count - 34, "UDP length: the whole frame", file: file, line: line)
        if size == 0 {
            XCTAssertTrue(Pkt.allChecksumsValid(Array(out[14...])), "one datagram: its checksum completed as for any frame", file: file, line: line)
        } else {
            XCTAssertEqual(Pkt.u16(out, 40), Pkt.partialPseudoSum(src: local, dst: remote, proto: 17, length: out.count - 34),
                           "UDP checksum partial, over the whole length, for the kernel to finish per datagram", file: file, line: line)
        }
        let body = Array(out[42...])
        let step = size == 0 ? body.count : size
        return stride(from: 0, to: body.count, by: step).map { Array(body[$0..<min(body.count, $0 + step)]) }
    }

    func testSuperFrameLeavesAsUDPGSOFramesOfVXLANDatagrams() {
        learnRemoteContainer()
        g.interfaces.takesLargeFrames[Int(up0)] = 1
        // 1410-byte segments: inner IPv4 1450 bytes, datagram 8 + 1464 = 1472, outer packet 1500.
        for (payload, frames) in [(1410, 1), (3000, 1), (20_000, 1), (46_530, 1), (46_531, 2), (64_000, 2)] {
            let frame = tcpSuperFrame(payload: payload)
            let before = g.interfaces.txPackets[Int(t1)]
            let r = g.sendLarge(frame, on: c1, gsoSize: 1410)
            let out = r.out[up0] ?? []
            XCTAssertEqual(out.count, frames, "\(payload): one frame per 33 datagrams (a chain's most buffers)")
            let reference = referenceSegments(frame, segmentSize: 1410)
            let sizes = r.sizes[up0] ?? []
            var inner: [[UInt8]] = []
            for (k, o) in out.enumerated() {
                let d = datagrams(of: o, size: Int(sizes[k]))
                XCTAssertTrue(d.dropLast().allSatisfy { $0.count == 1472 }, "\(payload): every datagram but the last is gsoSize")
                XCTAssertEqual(Int(sizes[k]), d.count > 1 ? 1472 : 0, "\(payload): GSO only with more than one datagram")
                for x in d {
                    XCTAssertEqual(Array(x[0..<8]), Self.vxlan(vni: 42))
                    inner.append(Array(x[8...]))
                }
            }
            XCTAssertEqual(inner, reference, "\(payload): the inner segments, byte for byte, as gso-segment cuts them")
            XCTAssertTrue(inner.allSatisfy { Pkt.allChecksumsValid(Array($0.dropFirst(14))) }, "inner TCP checksums complete")
            XCTAssertEqual(drops(r.counters), ["vxlan4-encap/udp-gso-frames": UInt64(frames)], "\(payload)")
            XCTAssertEqual(g.interfaces.txPackets[Int(t1)] - before, UInt64(reference.count), "the tunnel counts segments")
        }
    }

    func testSuperFrameToAnUnderlayThatCannotTakeItIsCutIntoVXLANPackets() {
        learnRemoteContainer()
        g.interfaces.takesLargeFrames[Int(up0)] = 0
        let frame = tcpSuperFrame(payload: 64_000)
        let r = g.sendLarge(frame, on: c1, gsoSize: 1410)
        let out = r.out[up0] ?? []
        XCTAssertEqual(out.count, 46)
        XCTAssertTrue(out.allSatisfy { $0.count <= 1514 && Pkt.allChecksumsValid(Array($0.dropFirst(14))) },
                      "each one VXLAN packet with its outer UDP checksum filled in")
        XCTAssertEqual(out.map { Array($0[50...]) }, referenceSegments(frame, segmentSize: 1410))
        XCTAssertEqual(drops(r.counters), ["vxlan4-encap/udp-gso-frames": 2, "gso-segment/segmented": 46])
    }

    func testSuperFrameWhoseSegmentsExceedTheTunnelMTUIsDropped() {
        learnRemoteContainer()
        g.interfaces.takesLargeFrames[Int(up0)] = 1
        let r = g.sendLarge(tcpSuperFrame(payload: 20_000), on: c1, gsoSize: 1461)   // inner IPv4 1501 bytes
        XCTAssertNil(r.out[up0])
        XCTAssertEqual(drops(r.counters), ["vxlan4-encap/mtu-exceeded": 1])
        XCTAssertEqual(g.sendLarge(tcpSuperFrame(payload: 20_000), on: c1, gsoSize: 1460).counters["vxlan4-encap/udp-gso-frames"], 1)
    }

    func testFloodedSuperFrameReachesTheTunnelWhole() {
        g.interfaces.takesLargeFrames[Int(up0)] = 1
        let frame = tcpSuperFrame(payload: 10_000)   // bMAC unknown: flooded
        let r = g.sendLarge(frame, on: c1, gsoSize: 1410)
        let out = r.out[up0] ?? []
        XCTAssertEqual(out.count, 1)
        XCTAssertEqual(out.first.map { datagrams(of: $0, size: 1472).map { Array($0[8...]) } }, referenceSegments(frame, segmentSize: 1410))
    }
}
