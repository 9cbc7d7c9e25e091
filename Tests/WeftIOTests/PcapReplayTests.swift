import XCTest
import WeftEngine
import WeftIO
import WeftTestSupport

/// pcap-input: files loaded with libpcap replayed through the L2 path.
final class PcapReplayTests: XCTestCase {
    var t: PcapGraph!
    var p1: UInt32 = 0, p2: UInt32 = 0
    let macA: UInt64 = 0x02_00_00_00_00_0A, macB: UInt64 = 0x02_00_00_00_00_0B

    override func setUpWithError() throws {
        t = try PcapGraph()
        p1 = t.bridged("pg1"); p2 = t.bridged("pg2")
    }

    override func tearDown() {
        t.runReplays(maxPolls: 10)
        t.g.run()
        XCTAssertEqual(t.g.buffersInFlight, 0, "no buffer leaked")
    }

    func file(_ frames: [[UInt8]], _ name: String) throws -> PcapFile {
        let path = PcapFiles.temporaryPath(name)
        PcapFiles.write(PcapFiles.classic(frames), to: path)
        return try PcapFile(path: path)
    }

    func testReplayDrivesTheBridgeByteExactNTimes() throws {
        let frames = (0..<5).map { PcapGraph.frame(dst: macB, src: macA, payload: 46 + 10 * $0, seed: $0) }
        let f = try file(frames, "three.pcap")
        XCTAssertEqual(f.packetCount, 5)
        let rx = t.replay(f, count: 3)
        t.runReplays()
        let expected = frames + frames + frames
        XCTAssertEqual(t.g.pgOutput.captured[p1], expected, "unknown unicast floods to every other port, byte for byte")
        XCTAssertEqual(t.g.pgOutput.captured[p2], expected)
        XCTAssertEqual(t.pcap.input.state(slot: 0).loopsDone, 3)
        XCTAssertEqual(t.pcap.input.state(slot: 0).sent, 15)
        XCTAssertTrue(t.pcap.input.state(slot: 0).finished)
        XCTAssertEqual(t.g.interfaces.rxPackets[Int(rx)], 15)
        XCTAssertEqual(t.pcap.input.activeReplays, 0, "a finished replay leaves the active list")
        XCTAssertEqual(t.g.graph.poll(t.pcap.input), 0)
    }

    func testLearnedDestinationGoesToOnePort() throws {
        _ = t.g.send([PcapGraph.frame(dst: macA, src: macB)], on: p2)  // B learned on pg2
        t.g.pgOutput.clearCapture()
        let frames = (0..<300).map { PcapGraph.frame(dst: macB, src: macA, seed: $0) }  // more than one vector
        _ = t.replay(try file(frames, "learned.pcap"), count: 1)
        t.runReplays()
        XCTAssertEqual(t.g.pgOutput.captured[p2], frames)
        XCTAssertNil(t.g.pgOutput.captured[p1])
    }

    func testFramesToTheReplayInterfaceAreDroppedAndCounted() throws {
        _ = t.replay(try file([PcapGraph.frame(dst: macB, src: macA)], "one.pcap"), count: 1)
        t.runReplays()
        let r = t.g.send([PcapGraph.frame(dst: macA, src: macB)], on: p2)  // A was learned on the replay interface
        XCTAssertEqual(r.counters["pcap-output/rx-only"], 1)
    }

    func testRateLimitedReplayKeepsItsRate() throws {
        let frames = (0..<10).map { PcapGraph.frame(dst: macB, src: macA, seed: $0) }
        _ = t.replay(try file(frames, "rate.pcap"), count: 0, rate: 1000)
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed: UInt64 = 0
        while elapsed < 300_000_000 {
            t.g.graph.poll(t.pcap.input)
            t.g.graph.dispatchPending()
            usleep(2000)  // like an idle worker waking from poll(2)
            elapsed = DispatchTime.now().uptimeNanoseconds - start
        }
        let sent = t.pcap.input.state(slot: 0).sent
        let expected = Double(elapsed) / 1e9 * 1000
        XCTAssertGreaterThan(Double(sent), expected * 0.5, "sent \(sent) in \(elapsed / 1_000_000) ms")
        XCTAssertLessThan(Double(sent), expected * 1.5 + 2, "sent \(sent) in \(elapsed / 1_000_000) ms")
        XCTAssertFalse(t.pcap.input.state(slot: 0).finished, "count 0 loops")
        _ = t.pcap.input.stop(slot: 0)
    }

    func testTruncatedFileIsRefused() {
        let path = PcapFiles.temporaryPath("truncated.pcap")
        let full = PcapFiles.classic([PcapGraph.frame(dst: macB, src: macA), PcapGraph.frame(dst: macB, src: macA)])
        PcapFiles.write(Array(full.dropLast(20)), to: path)
        XCTAssertThrowsError(try PcapFile(path: path)) { error in
            guard case PcapError.truncated = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
        PcapFiles.write(Array(full.prefix(10)), to: path)  // not even a whole file header
        XCTAssertThrowsError(try PcapFile(path: path)) { error in
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
    }

    func testNonCaptureFileIsRefused() {
        let path = PcapFiles.temporaryPath("text.pcap")
        PcapFiles.write(Array(String(repeating: "this is not a capture file\n", count: 10).utf8), to: path)
        XCTAssertThrowsError(try PcapFile(path: path)) { error in
            guard case PcapError.cannotOpen(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("format"), reason)
        }
        XCTAssertThrowsError(try PcapFile(path: PcapFiles.temporaryPath("missing.pcap"))) { error in
            guard case PcapError.cannotOpen(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("No such file"), reason)
        }
    }

    func testNonEthernetLinkTypeIsRefused() {
        let path = PcapFiles.temporaryPath("raw.pcap")
        PcapFiles.write(PcapFiles.classic([Array(repeating: 0x45, count: 40)], linkType: 101), to: path)  // LINKTYPE_RAW
        XCTAssertThrowsError(try PcapFile(path: path)) { error in
            guard case PcapError.notEthernet(_, let link, _) = error else { return XCTFail("\(error)") }
            XCTAssertNotEqual(link, 1)
            XCTAssertTrue("\(error)".contains("only Ethernet"), "\(error)")
        }
    }

    func testLimitsAndEmptyFilesAreRefused() {
        let path = PcapFiles.temporaryPath("limits.pcap")
        PcapFiles.write(PcapFiles.classic((0..<10).map { PcapGraph.frame(dst: macB, src: macA, seed: $0) }), to: path)
        XCTAssertThrowsError(try PcapFile(path: path, maxPackets: 5)) { error in
            guard case PcapError.tooLarge = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try PcapFile(path: path, maxBytes: 100)) { error in
            guard case PcapError.tooLarge = error else { return XCTFail("\(error)") }
        }
        PcapFiles.write(PcapFiles.classic([]), to: path)
        XCTAssertThrowsError(try PcapFile(path: path)) { error in
            guard case PcapError.empty = error else { return XCTFail("\(error)") }
        }
        PcapFiles.write(PcapFiles.classic([Array(repeating: 1, count: 3000)]), to: path)
        XCTAssertThrowsError(try PcapFile(path: path)) { error in
            guard case PcapError.badFrame = error else { return XCTFail("\(error)") }
        }
    }

    /// A file written by the capture side replays to the same bytes.
    func testCaptureThenReplayRoundTrip() throws {
        let path = PcapFiles.temporaryPath("roundtrip.pcap")
        let w = try PcapWriter(path: path, snaplen: 65535, filter: nil)
        let frames = (0..<4).map { PcapGraph.frame(dst: macB, src: macA, payload: 60 + $0, seed: $0) }
        for f in frames { f.withUnsafeBytes { _ = w.write($0.baseAddress!, capturedLength: f.count, wireLength: f.count, seconds: 1, microseconds: 2) } }
        w.close()
        _ = t.replay(try PcapFile(path: path), count: 2)
        t.runReplays()
        XCTAssertEqual(t.g.pgOutput.captured[p1], frames + frames)
    }
}
