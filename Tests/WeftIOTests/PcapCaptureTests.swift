import XCTest
import WeftEngine
import WeftIO
import WeftTestSupport

/// Capture through an embedded graph: the hook in dispatchPending copies
/// what enters the captured node into the ring, the session writes the
/// file, libpcap reads it back byte for byte.
final class PcapCaptureTests: XCTestCase {
    var t: PcapGraph!
    var p1: UInt32 = 0, p2: UInt32 = 0, p3: UInt32 = 0
    let macA: UInt64 = 0x02_00_00_00_00_0A, macB: UInt64 = 0x02_00_00_00_00_0B

    override func setUpWithError() throws {
        t = try PcapGraph()
        p1 = t.bridged("pg1"); p2 = t.bridged("pg2")
        p3 = t.g.addInterface("pg3")  // in no bridge domain: what it receives is dropped (not-bridged)
    }

    override func tearDown() {
        t.g.graph.setCapture(nil, node: -1)
        t.g.run()
        XCTAssertEqual(t.g.buffersInFlight, 0, "no buffer leaked")
    }

    func session(node: String, match: PacketCapture.Match, path: String, count: UInt64 = 0, filter: String? = nil,
                 slots: Int = PacketCapture.defaultSlots) throws -> PcapCaptureSession {
        let writer = try PcapWriter(path: path, snaplen: 65535, filter: filter)
        let capture = PacketCapture(match: match, snaplen: 65535, limit: filter == nil ? count : 0, slots: slots)
        let node = t.g.graph.nodeIndex(named: node)!
        let s = PcapCaptureSession(capture: capture, node: node, writer: writer, count: count)
        t.g.graph.setCapture(capture, node: node)
        return s
    }

    func testRxCapturesOnlyFramesReceivedOnTheInterface() throws {
        let path = PcapFiles.temporaryPath("rx.pcap")
        let s = try session(node: "ethernet-input", match: .rxInterface(p1), path: path)
        let fromA = (0..<5).map { PcapGraph.frame(dst: macB, src: macA, payload: 46 + $0, seed: $0) }
        let fromB = (0..<3).map { PcapGraph.frame(dst: macA, src: macB, seed: 100 + $0) }
        _ = t.g.send(fromA, on: p1)
        _ = t.g.send(fromB, on: p2)
        let stats = s.stop()
        XCTAssertEqual(stats.state, .stopped)
        XCTAssertEqual(stats.captured, 5)
        XCTAssertEqual(stats.written, 5)
        XCTAssertEqual(stats.overrun, 0)
        XCTAssertEqual(try PcapFiles.read(path), fromA, "exactly the frames received on pg1, byte for byte")
    }

    func testTxCapturesFramesLeavingTheInterface() throws {
        let path = PcapFiles.temporaryPath("tx.pcap")
        let s = try session(node: "pg-output", match: .txInterface(p2), path: path)
        let ab = (0..<4).map { PcapGraph.frame(dst: macB, src: macA, seed: $0) }
        let out = t.g.send(ab, on: p1).out
        XCTAssertEqual(out[p2], ab)
        _ = t.g.send([PcapGraph.frame(dst: macA, src: macB)], on: p2)  // leaves on pg1: not captured
        let stats = s.stop()
        XCTAssertEqual(stats.written, 4)
        XCTAssertEqual(try PcapFiles.read(path), ab)
    }

    func testDropCapturesDroppedFrames() throws {
        let path = PcapFiles.temporaryPath("drop.pcap")
        let s = try session(node: "error-drop", match: .all, path: path)
        let dropped = (0..<3).map { PcapGraph.frame(dst: macB, src: macA, seed: $0) }
        let r = t.g.send(dropped, on: p3)
        XCTAssertEqual(r.counters["ethernet-input/not-bridged"], 3)
        _ = t.g.send([PcapGraph.frame(dst: macB, src: macA)], on: p1)  // forwarded: not captured
        XCTAssertEqual(s.stop().written, 3)
        XCTAssertEqual(try PcapFiles.read(path), dropped)
    }

    func testNodeCaptureTakesEveryPacketEnteringTheNode() throws {
        let path = PcapFiles.temporaryPath("node.pcap")
        let s = try session(node: "l2-fwd", match: .all, path: path)
        let a = PcapGraph.frame(dst: macB, src: macA), b = PcapGraph.frame(dst: macA, src: macB)
        _ = t.g.send([a], on: p1)
        _ = t.g.send([b], on: p2)
        _ = t.g.send([a], on: p3)  // dropped before l2-fwd
        XCTAssertEqual(s.stop().written, 2)
        XCTAssertEqual(try PcapFiles.read(path), [a, b])
    }

    func testFilterKeepsOnlyMatchingPackets() throws {
        let path = PcapFiles.temporaryPath("filter.pcap")
        let s = try session(node: "ethernet-input", match: .rxInterface(p1), path: path, filter: "ether proto 0x88b5")
        let keep = (0..<3).map { PcapGraph.frame(dst: macB, src: macA, type: 0x88B5, seed: $0) }
        let skip = (0..<4).map { PcapGraph.frame(dst: macB, src: macA, type: 0x0800, seed: $0) }
        _ = t.g.send([skip[0], keep[0], skip[1], keep[1], skip[2], skip[3], keep[2]], on: p1)
        let stats = s.stop()
        XCTAssertEqual(stats.captured, 7)
        XCTAssertEqual(stats.written, 3)
        XCTAssertEqual(stats.filteredOut, 4)
        XCTAssertEqual(try PcapFiles.read(path), keep)
    }

    func testBadFilterNamesTheExpression() {
        XCTAssertThrowsError(try PcapWriter.validate(filter: "tcp port banana")) { error in
            guard case PcapError.badFilter(let expression, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(expression, "tcp port banana")
            XCTAssertFalse(reason.isEmpty)
            XCTAssertTrue("\(error)".contains("tcp port banana"), "\(error)")
        }
        let path = PcapFiles.temporaryPath("never.pcap")
        try? FileManager.default.removeItem(atPath: path)
        XCTAssertThrowsError(try PcapWriter(path: path, snaplen: 65535, filter: "not a filter ((("))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "a bad filter leaves no file behind")
    }

    func testMissingDirectoryIsACleanError() {
        XCTAssertThrowsError(try PcapWriter(path: "/nonexistent-weft-dir/x.pcap", snaplen: 65535, filter: nil)) { error in
            guard case PcapError.cannotWrite = error else { return XCTFail("\(error)") }
        }
    }

    func testFullRingCountsOverrunAndNeverBlocks() throws {
        let path = PcapFiles.temporaryPath("overrun.pcap")
        let s = try session(node: "ethernet-input", match: .rxInterface(p1), path: path, slots: 4)
        let frames = (0..<10).map { PcapGraph.frame(dst: macB, src: macA, seed: $0) }
        let out = t.g.send(frames, on: p1).out
        XCTAssertEqual(out[p2]?.count, 10, "forwarding went on")
        XCTAssertEqual(s.capture.captured, 4)
        XCTAssertEqual(s.capture.overrun, 6)
        s.drain()
        _ = t.g.send(Array(frames[0..<2]), on: p1)  // room again after the drain
        let stats = s.stop()
        XCTAssertEqual(stats.written, 6)
        XCTAssertEqual(stats.overrun, 6)
        XCTAssertEqual(try PcapFiles.read(path), Array(frames[0..<4]) + Array(frames[0..<2]))
    }

    func testCountStopsTheCapture() throws {
        let path = PcapFiles.temporaryPath("count.pcap")
        let s = try session(node: "ethernet-input", match: .rxInterface(p1), path: path, count: 3)
        let frames = (0..<8).map { PcapGraph.frame(dst: macB, src: macA, seed: $0) }
        _ = t.g.send(frames, on: p1)
        s.drain()
        XCTAssertEqual(s.statistics().state, .done)
        _ = t.g.send(frames, on: p1)
        let stats = s.stop()
        XCTAssertEqual(stats.state, .done)
        XCTAssertEqual(stats.captured, 3)
        XCTAssertEqual(stats.written, 3)
        XCTAssertEqual(try PcapFiles.read(path), Array(frames[0..<3]))
    }

    func testCountWithFilterCountsWrittenPackets() throws {
        let path = PcapFiles.temporaryPath("countfilter.pcap")
        let s = try session(node: "ethernet-input", match: .rxInterface(p1), path: path, count: 2, filter: "ether proto 0x88b5")
        let keep = (0..<5).map { PcapGraph.frame(dst: macB, src: macA, type: 0x88B5, seed: $0) }
        let skip = PcapGraph.frame(dst: macB, src: macA)
        _ = t.g.send([skip, keep[0], skip, keep[1], keep[2]], on: p1)
        s.drain()
        let stats = s.stop()
        XCTAssertEqual(stats.state, .done)
        XCTAssertEqual(stats.written, 2)
        XCTAssertEqual(try PcapFiles.read(path), Array(keep[0..<2]))
    }

    /// The drain timer writes while the "worker" keeps sending.
    func testTimerDrainsWhileTrafficFlows() throws {
        let path = PcapFiles.temporaryPath("timer.pcap")
        let s = try session(node: "ethernet-input", match: .rxInterface(p1), path: path, slots: 64)
        s.start(intervalMilliseconds: 1)
        var sent: [[UInt8]] = []
        for round in 0..<20 {
            let burst = (0..<32).map { PcapGraph.frame(dst: macB, src: macA, seed: round * 32 + $0) }
            _ = t.g.send(burst, on: p1)
            sent += burst
            usleep(5_000)
        }
        let stats = s.stop()
        XCTAssertEqual(stats.written + stats.overrun, 640)
        XCTAssertEqual(stats.captured, stats.written)
        let file = try PcapFiles.read(path)
        XCTAssertEqual(file.count, Int(stats.written))
        XCTAssertTrue(file.allSatisfy { sent.contains($0) })
    }
}
