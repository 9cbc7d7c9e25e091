#if canImport(Glibc)
import Glibc
#endif
import CShims
import WeftEngine
import WeftPacket

/// tap-input: reads frames from each TAP queue straight into pool buffers
/// (the kernel's one copy; no ring to copy out of), non-blocking, until the
/// queue is empty or the vector is full. The 10-byte virtio-net header lands
/// in the buffer's headroom just before the frame, so one read per frame
/// and no second copy. A header asking for a checksum (NEEDS_CSUM) marks the
/// buffer `.l4ChecksumPending`; the output side completes it.
///
/// The TAP offers TCPv4 segmentation (weft_tap_open), so the pod's TCP hands
/// over 64 KB GSO super-frames. The read is a readv whose second vector is a
/// 64 KB scratch: a frame longer than the buffer continues there and is
/// copied behind the buffer as a chain (BufferChain), with the header's GSO
/// fields in the metadata (gsoSize, gsoType, l4Offset = csum_start). Small
/// frames never touch the scratch.
///
/// Sets: dataOffset, length, rxInterface, flags; for chains and GSO frames
/// nextBuffer, chainLength, gsoSize, gsoType, l4Offset.
public final class TapInputNode: GraphNode {
    public enum Next: String, NodeNext {
        case ethernetInput = "ethernet-input"
    }

    public enum Error: String, NodeError {
        case noBuffers = "no-buffers"
        case runt = "runt"
        case frameTooLong = "frame-too-long"
        case gsoFrames = "gso-frames"
        case gsoBadHeader = "gso-bad-header"
        case queueGone = "queue-gone"
        public var help: String {
            switch self {
            case .noBuffers: return "reads skipped: buffer pool empty"
            case .runt: return "reads shorter than a virtio-net header and an Ethernet header"
            case .frameTooLong: return "frames longer than 64 KB (filling buffer and scratch, maybe cut short): dropped"
            case .gsoFrames: return "GSO super-frames received (counted, not dropped)"
            case .gsoBadHeader: return "GSO frames whose virtio-net header is not TCPv4 with a partial checksum at a TCP header, or whose segment size is 0: dropped"
            case .queueGone: return "queues whose reads failed for good (device deleted with its namespace); no longer read"
            }
        }
    }

    public static let registration = NodeRegistration(name: "tap-input", kind: .input, next: Next.self, errors: Error.self)

    let ports: TapPorts
    var toEthernet = Int32(0)
    var errNoBuffers = UInt32(0), errRunt = UInt32(0), errTooLong = UInt32(0), errGSO = UInt32(0), errGSOHeader = UInt32(0)
    var errGone = UInt32(0)
    /// Where the rest of a super-frame lands (see the type's doc).
    let scratch: UnsafeMutableRawPointer
    static let scratchSize = BufferChain.maxFrameLength
    /// A buffer kept from the last read that found the queue empty: an idle
    /// queue costs a read(2), not an alloc/free pair as well.
    var spare = BufferPool.invalid

    static let readOffset = BufferPool.headroom - Int(WEFT_VNET_HDR_LEN)
    static let readLength = BufferPool.bufferSize - readOffset

    public init(ports: TapPorts) {
        self.ports = ports
        scratch = .allocate(byteCount: Self.scratchSize, alignment: 64)
        super.init(registration: Self.registration)
    }

    deinit { scratch.deallocate() }

    public override func didResolve(_ graph: Graph) {
        toEthernet = nextIndex(Next.ethernetInput)
        errNoBuffers = errorIndex(Error.noBuffers)
        errRunt = errorIndex(Error.runt)
        errTooLong = errorIndex(Error.frameTooLong)
        errGSO = errorIndex(Error.gsoFrames)
        errGSOHeader = errorIndex(Error.gsoBadHeader)
        errGone = errorIndex(Error.queueGone)
    }

    public override var pollDescriptors: [Int32] { ports.descriptors }

    public override func poll(_ graph: Graph) -> Int {
        var total = 0
        for k in 0..<ports.activeCount {
            let port = ports.ports + Int(ports.activeList[k])
            for q in 0..<Int(port.pointee.queueCount) where port.pointee.deadQueues & (1 << UInt32(q)) == 0 {
                total &+= receive(graph, port, queue: q, budget: Graph.vectorSize)
            }
        }
        return total
    }

    @inline(__always)
    private func receive(_ graph: Graph, _ port: UnsafeMutablePointer<TapPort>, queue q: Int, budget: Int) -> Int {
        let fd = port.pointee.fd(q)
        let rx = Int(port.pointee.swIfIndex)
        var out = NextCursor(to: toEthernet)
        var traceBudget = graph.trace.remaining(index)
        var got = 0, bytes = 0
        while got < budget {
            var bi = spare
            spare = BufferPool.invalid
            if bi == BufferPool.invalid {
                bi = graph.buffers.alloc()
                if _slowPath(bi == BufferPool.invalid) { graph.count(errNoBuffers); break }
            }
            let start = graph.data(bi) + Self.readOffset
            let n = weft_fd_read2(fd, start, Self.readLength, scratch, Self.scratchSize)
            if n <= 0 {
                spare = bi
                if _slowPath(n != -Int(EAGAIN) && n != -Int(EINTR)) {
                    // EBADFD/EIO (or end of file) for good: the device is gone. Stop
                    // reading (and polling) the queue instead of spinning on its error.
                    port.pointee.deadQueues |= 1 << UInt32(q)
                    graph.count(errGone)
                }
                break
            }
            let frameLength = n &- Int(WEFT_VNET_HDR_LEN)
            if _slowPath(frameLength < Ethernet.headerLength) { spare = bi; graph.count(errRunt); continue }
            if _slowPath(n == Self.readLength &+ Self.scratchSize) { spare = bi; graph.count(errTooLong); continue }
            let hdrFlags = start.load(as: UInt8.self)
            let gsoType = (start + 1).load(as: UInt8.self)
            let m = graph.metadata + Int(bi)
            if _slowPath(gsoType != 0 || n > Self.readLength) {
                if !takeLarge(graph, bi, m, header: start, read: n) { spare = bi; continue }
            }
            m.pointee.dataOffset = UInt16(BufferPool.headroom)
            m.pointee.length = UInt16(truncatingIfNeeded: min(frameLength, BufferPool.maxDataLength))
            m.pointee.rxInterface = UInt32(rx)
            m.pointee.flags = hdrFlags & UInt8(WEFT_VNET_F_NEEDS_CSUM) != 0 ? .l4ChecksumPending : []
            bytes &+= frameLength
            got &+= 1
            if _slowPath(traceBudget > 0) {
                let id = graph.trace.select(m, node: index)
                graph.trace.add(TraceRecord(packet: id, node: index, a: UInt64(rx), b: UInt64(frameLength), c: UInt64(hdrFlags),
                                            d: UInt64(m.pointee.gsoSize) | UInt64(m.pointee.gsoType) << 16))
                traceBudget -= 1
            }
            graph.put(bi, &out)
        }
        graph.close(&out)
        graph.interfaces.rxPackets[rx] &+= UInt64(got)
        graph.interfaces.rxBytes[rx] &+= UInt64(bytes)
        graph.countBytes(index, Int(bytes))
        return got
    }

    /// A GSO frame, or a frame longer than the buffer: checks the header,
    /// chains the scratch's part behind the buffer, fills the GSO fields.
    /// False (counted) when the frame is dropped; the buffer is then unchanged.
    @inline(never)
    private func takeLarge(_ graph: Graph, _ bi: UInt32, _ m: UnsafeMutablePointer<BufferMetadata>,
                           header: UnsafeRawPointer, read n: Int) -> Bool {
        if header.load(fromByteOffset: 1, as: UInt8.self) != 0 {
            let frameLength = n &- VirtioNetHeader.length
            // TUNSETOFFLOAD offers TSO4 only: anything but a TCPv4 super-frame is a lie.
            guard VirtioNetHeader.accept(header, frame: header + VirtioNetHeader.length,
                                         headLength: min(frameLength, BufferPool.maxDataLength), frameLength: frameLength,
                                         into: m) == .whole else {
                graph.count(errGSOHeader)
                return false
            }
            graph.count(errGSO)
        }
        if n > Self.readLength, !BufferChain.extend(bi, from: scratch, length: n &- Self.readLength, buffers: graph.buffers) {
            m.pointee.gsoSize = 0; m.pointee.gsoType = 0; m.pointee.l4Offset = 0
            graph.count(errNoBuffers)
            return false
        }
        return true
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let csum = r.c & UInt64(WEFT_VNET_F_NEEDS_CSUM) != 0 ? " csum-partial" : ""
        let size = r.d & 0xFFFF, type = GSOType(rawValue: UInt8(truncatingIfNeeded: r.d >> 16)) ?? .none
        let gso = size != 0 ? " gso \(type) segment \(size)" : ""
        return "tap-input: sw_if_index \(r.a), \(r.b) bytes\(csum)\(gso)"
    }
}
