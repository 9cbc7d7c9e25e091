import Foundation
import WeftEngine
import WeftIO
import WeftL2
import WeftPacket

/// Hand-made capture files (independent of libpcap's writer) and a graph
/// with the L2 path and the pcap nodes.
enum PcapFiles {
    static func temporaryPath(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "weft-pcap-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }

    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }

    /// A classic little-endian pcap file (microsecond timestamps).
    static func classic(_ frames: [[UInt8]], linkType: UInt32 = 1) -> [UInt8] {
        var b = le32(0xA1B2_C3D4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(65535) + le32(linkType)
        for (i, f) in frames.enumerated() {
            b += le32(1_700_000_000 + UInt32(i)) + le32(0) + le32(UInt32(f.count)) + le32(UInt32(f.count)) + f
        }
        return b
    }

    static func write(_ bytes: [UInt8], to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    /// Reads a file back with libpcap (through PcapFile).
    static func read(_ path: String) throws -> [[UInt8]] {
        let f = try PcapFile(path: path)
        return (0..<f.packetCount).map { f.frame($0) }
    }
}

/// An embedded graph with L2 and the pcap feature, bridge domain 1.
final class PcapGraph {
    let l2 = L2Feature(macTableCapacity: 4096)
    let pcap = PcapFeature()
    let g: EmbeddedGraph

    init() throws {
        let l2 = self.l2, pcap = self.pcap
        g = try EmbeddedGraph { graph in
            l2.register(in: graph)
            pcap.register(in: graph)
        }
        g.pgOutput.captureEnabled = true
        l2.domains.create(id: 1, learnLimit: 1000, macAgeSeconds: 300)
    }

    func bridged(_ name: String) -> UInt32 {
        let i = g.addInterface(name)
        precondition(l2.attach(i, to: 1, interfaces: g.interfaces))
        return i
    }

    /// A replay interface in bridge domain 1 playing `file`.
    func replay(_ file: PcapFile, count: Int, rate: Int = 0) -> UInt32 {
        let slot = pcap.input.freeSlot()!
        let i = g.interfaces.add(name: "pcap-\(slot)", driver: "pcap", mac: PcapFeature.mac(slot: slot), mtu: 1500,
                                 outputNode: pcap.output.index, driverInstance: slot)!
        precondition(l2.attach(i, to: 1, interfaces: g.interfaces))
        pcap.input.start(slot: slot, file: file, swIfIndex: i, count: count, rate: rate)
        return i
    }

    /// Polls pcap-input and dispatches until every replay finished (or `maxPolls`).
    func runReplays(maxPolls: Int = 1_000_000) {
        var polls = 0
        while polls < maxPolls && (pcap.input.activeReplays > 0 || g.graph.framesInUse > 0) {
            g.graph.poll(pcap.input)
            g.graph.dispatchPending()
            polls += 1
        }
    }

    static func frame(dst: UInt64, src: UInt64, type: UInt16 = 0x0800, payload: Int = 46, seed: Int = 0) -> [UInt8] {
        var f = MACAddress.bytes(dst) + MACAddress.bytes(src)
        f += [UInt8(type >> 8), UInt8(type & 0xFF)]
        f += (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ seed) }
        return f
    }
}
