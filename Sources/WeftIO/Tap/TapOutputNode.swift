#if canImport(Glibc)
import Glibc
#endif
import CShims
import WeftEngine
import WeftPacket

/// tap-output: writes each frame to its interface's first TAP queue with one
/// write(2), the virtio-net header put in the headroom just before the frame
/// (no copy on our side). Partial checksums (from a veth or TAP sender) are
/// completed first, so the header always says "checksum complete".
///
/// A GSO super-frame (or any buffer chain) from another TAP pod is written
/// whole with one writev(2): header, then each buffer of the chain. Its
/// header carries the GSO fields and NEEDS_CSUM at the TCP header (the
/// checksum stays partial), so the receiving kernel gets one 64 KB frame and
/// segments it only if it must (TAPs are InterfaceTable.takesLargeFrames).
/// In-order TCP segments of one flow are first joined into super-frames
/// (GROCoalescer), as the kernel's GRO would for a pod on a veth.
///
/// Uses: txInterface, dataOffset, length, flags(.l4ChecksumPending); for
/// chains and GSO frames nextBuffer, chainLength, gsoSize, gsoType, l4Offset.
public final class TapOutputNode: GraphNode {
    public enum Error: String, NodeError {
        case notTap = "not-tap"
        case noHeadroom = "no-headroom"
        case writeFailed = "write-failed"
        case groMerged = "gro-merged"
        public var help: String {
            switch self {
            case .groMerged: return "TCP segments joined to the one before them into one super-frame (GROCoalescer; counted, not dropped)"
            case .notTap: return "transmit interface has no tap port"
            case .noHeadroom: return "frames with less than 10 bytes of headroom for the virtio-net header"
            case .writeFailed: return "write(2) to the TAP queue failed (device down or gone)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "tap-output", next: NoNext.self, errors: Error.self)

    let ports: TapPorts
    var errNotTap = UInt32(0), errHeadroom = UInt32(0), errWrite = UInt32(0), errGROMerged = UInt32(0)
    let coalescer = GROCoalescer()

    public init(ports: TapPorts) {
        self.ports = ports
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        errNotTap = errorIndex(Error.notTap)
        errHeadroom = errorIndex(Error.noHeadroom)
        errWrite = errorIndex(Error.writeFailed)
        errGROMerged = errorIndex(Error.groMerged)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ frames: Int) {
        let count = coalescer.coalesce(graph, vector, frames)
        if _slowPath(count != frames) { graph.count(errGROMerged, coalescer.takeMerged()) }
        let md = graph.metadata
        let instance = graph.interfaces.driverInstance
        let txPackets = graph.interfaces.txPackets
        let txBytes = graph.interfaces.txBytes
        let drops = graph.interfaces.drops
        let tracing = graph.trace.enabled
        let hdrLength = Int(WEFT_VNET_HDR_LEN)
        var sent = 0
        for i in 0..<count {
            let bi = vector[i]
            let m = md + Int(bi)
            let tx = Int(m.pointee.txInterface)
            let slot = instance[tx]
            if _slowPath(slot < 0) { graph.count(errNotTap); drops[tx] &+= 1; continue }
            let port = ports.ports + Int(slot)
            if _slowPath(!port.pointee.active) { graph.count(errNotTap); drops[tx] &+= 1; continue }
            let offset = Int(m.pointee.dataOffset)
            if _slowPath(offset < hdrLength) { graph.count(errHeadroom); drops[tx] &+= 1; continue }
            let frame = graph.data(bi) + offset
            if _slowPath(m.pointee.isChained || m.pointee.gsoSize != 0) {
                if writeLarge(graph, bi, m, frame: frame, fd: port.pointee.fd(0)) {
                    txPackets[tx] &+= 1
                    txBytes[tx] &+= UInt64(m.pointee.totalLength)
                    sent &+= m.pointee.totalLength
                } else {
                    drops[tx] &+= 1
                }
                continue
            }
            let len = Int(m.pointee.length)
            if _slowPath(m.pointee.flags.contains(.l4ChecksumPending)) { Checksum.completeEthernetL4(frame: frame, length: len) }
            // virtio_net_hdr: no flags, no GSO, all fields zero.
            let hdr = frame - hdrLength
            hdr.storeBytes(of: UInt64(0), as: UInt64.self)
            (hdr + 8).storeBytes(of: UInt16(0), as: UInt16.self)
            let n = weft_fd_write(port.pointee.fd(0), hdr, len &+ hdrLength)
            if _slowPath(n < 0) { graph.count(errWrite); drops[tx] &+= 1; continue }
            txPackets[tx] &+= 1
            txBytes[tx] &+= UInt64(len)
            sent &+= len
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(tx), b: UInt64(len)) }
        }
        graph.countBytes(index, sent)
        graph.buffers.free(vector, count: count)
    }

    /// One writev: the header (GSO fields from the metadata) and every buffer.
    @inline(never)
    private func writeLarge(_ graph: Graph, _ bi: UInt32, _ m: UnsafeMutablePointer<BufferMetadata>,
                            frame: UnsafeMutableRawPointer, fd: Int32) -> Bool {
        let header = frame - VirtioNetHeader.length
        guard VirtioNetHeader.write(header, for: m, frame: frame) else { graph.count(errWrite); return false }
        let written = ChainIO.withPieces(header: header, head: bi, graph: graph) { v, count in weft_fd_writev(fd, v, count) }
        if written < 0 { graph.count(errWrite); return false }
        if graph.trace.enabled { graph.traceIfSelected(bi, node: index, a: UInt64(m.pointee.txInterface), b: UInt64(m.pointee.totalLength)) }
        return true
    }

    public override func formatTrace(_ r: TraceRecord) -> String { "tap-output: sw_if_index \(r.a), \(r.b) bytes" }
}
