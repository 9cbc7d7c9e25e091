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
///
/// Uses: txInterface, dataOffset, length, flags(.l4ChecksumPending); for
/// chains and GSO frames nextBuffer, chainLength, gsoSize, gsoType, l4Offset.
public final class TapOutputNode: GraphNode {
    public enum Error: String, NodeError {
        case notTap = "not-tap"
        case noHeadroom = "no-headroom"
        case writeFailed = "write-failed"
        public var help: String {
            switch self {
            case .notTap: return "transmit interface has no tap port"
            case .noHeadroom: return "frames with less than 10 bytes of headroom for the virtio-net header"
            case .writeFailed: return "write(2) to the TAP queue failed (device down or gone)"
            }
        }
    }

    public static let registration = NodeRegistration(name: "tap-output", next: NoNext.self, errors: Error.self)

    let ports: TapPorts
    var errNotTap = UInt32(0), errHeadroom = UInt32(0), errWrite = UInt32(0)

    public init(ports: TapPorts) {
        self.ports = ports
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        errNotTap = errorIndex(Error.notTap)
        errHeadroom = errorIndex(Error.noHeadroom)
        errWrite = errorIndex(Error.writeFailed)
    }

    public override func process(_ graph: Graph, _ vector: UnsafeMutablePointer<UInt32>, _ count: Int) {
        let md = graph.metadata
        let instance = graph.interfaces.driverInstance
        let txPackets = graph.interfaces.txPackets
        let txBytes = graph.interfaces.txBytes
        let drops = graph.interfaces.drops
        let tracing = graph.trace.enabled
        let hdrLength = Int(WEFT_VNET_HDR_LEN)
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
            if tracing { graph.traceIfSelected(bi, node: index, a: UInt64(tx), b: UInt64(len)) }
        }
        graph.buffers.free(vector, count: count)
    }

    /// One writev: the header (GSO fields from the metadata) and every buffer.
    @inline(never)
    private func writeLarge(_ graph: Graph, _ bi: UInt32, _ m: UnsafeMutablePointer<BufferMetadata>,
                            frame: UnsafeMutableRawPointer, fd: Int32) -> Bool {
        let hdr = frame - Int(WEFT_VNET_HDR_LEN)
        hdr.storeBytes(of: UInt64(0), as: UInt64.self)
        (hdr + 8).storeBytes(of: UInt16(0), as: UInt16.self)
        if m.pointee.gsoSize != 0 {
            let l4 = Int(m.pointee.l4Offset)
            guard m.pointee.gsoType == GSOType.tcp4.rawValue, m.pointee.flags.contains(.l4ChecksumPending),
                  l4 &+ 20 <= Int(m.pointee.length) else { graph.count(errWrite); return false }
            let tcpHeader = Int(frame.load(fromByteOffset: l4 &+ 12, as: UInt8.self) >> 4) &* 4
            hdr.storeBytes(of: UInt8(WEFT_VNET_F_NEEDS_CSUM), as: UInt8.self)
            (hdr + 1).storeBytes(of: UInt8(WEFT_VNET_GSO_TCPV4), as: UInt8.self)
            (hdr + 2).storeBytes(of: UInt16(l4 &+ tcpHeader), as: UInt16.self)      // hdr_len
            (hdr + 4).storeBytes(of: m.pointee.gsoSize, as: UInt16.self)             // gso_size
            (hdr + 6).storeBytes(of: UInt16(l4), as: UInt16.self)                    // csum_start
            (hdr + 8).storeBytes(of: UInt16(16), as: UInt16.self)                    // csum_offset: TCP
        } else if m.pointee.flags.contains(.l4ChecksumPending) {
            // A chain without GSO (a jumbo frame) with a partial checksum: let the kernel finish it.
            guard let l3 = Ethernet.ipv4Offset(frame, length: Int(m.pointee.length)) else { graph.count(errWrite); return false }
            let proto = frame.load(fromByteOffset: l3 &+ 9, as: UInt8.self)
            guard proto == 6 || proto == 17 else { graph.count(errWrite); return false }
            let l4 = l3 &+ Int(frame.load(fromByteOffset: l3, as: UInt8.self) & 0x0F) &* 4
            hdr.storeBytes(of: UInt8(WEFT_VNET_F_NEEDS_CSUM), as: UInt8.self)
            (hdr + 6).storeBytes(of: UInt16(l4), as: UInt16.self)
            (hdr + 8).storeBytes(of: UInt16(proto == 6 ? 16 : 6), as: UInt16.self)
        }
        let n = BufferChain.count(bi, metadata: graph.metadata)
        guard n <= BufferChain.maxBuffers else { graph.count(errWrite); return false }
        let written = withUnsafeTemporaryAllocation(of: iovec.self, capacity: BufferChain.maxBuffers &+ 1) { v -> Int in
            v[0] = iovec(iov_base: hdr, iov_len: Int(WEFT_VNET_HDR_LEN) &+ Int(m.pointee.length))
            var b = m.pointee.nextBuffer, k = 1
            while b != BufferPool.invalid {
                let bm = graph.metadata + Int(b)
                v[k] = iovec(iov_base: graph.data(b) + Int(bm.pointee.dataOffset), iov_len: Int(bm.pointee.length))
                k &+= 1
                b = bm.pointee.nextBuffer
            }
            return weft_fd_writev(fd, v.baseAddress, Int32(k))
        }
        if written < 0 { graph.count(errWrite); return false }
        if graph.trace.enabled { graph.traceIfSelected(bi, node: index, a: UInt64(m.pointee.txInterface), b: UInt64(m.pointee.totalLength)) }
        return true
    }

    public override func formatTrace(_ r: TraceRecord) -> String { "tap-output: sw_if_index \(r.a), \(r.b) bytes" }
}
