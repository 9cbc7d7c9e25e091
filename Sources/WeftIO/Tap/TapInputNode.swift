#if canImport(Glibc)
import Glibc
#endif
import CShims
import WeftEngine
import WeftPacket

/// tap-input: reads frames from each TAP queue straight into pool buffers
/// (the kernel's one copy; no ring to copy out of), non-blocking, until the
/// queue is empty or the vector is full. The 10-byte virtio-net header lands
/// in the buffer's headroom just before the frame, so one read(2) per frame
/// and no second copy. A header asking for a checksum (NEEDS_CSUM) marks the
/// buffer `.l4ChecksumPending`; the output side completes it.
///
/// Sets: dataOffset, length, rxInterface, flags.
public final class TapInputNode: GraphNode {
    public enum Next: String, NodeNext {
        case ethernetInput = "ethernet-input"
    }

    public enum Error: String, NodeError {
        case noBuffers = "no-buffers"
        case runt = "runt"
        case frameTooLong = "frame-too-long"
        case gsoFrame = "gso-frame"
        case queueGone = "queue-gone"
        public var help: String {
            switch self {
            case .noBuffers: return "reads skipped: buffer pool empty"
            case .runt: return "reads shorter than a virtio-net header and an Ethernet header"
            case .frameTooLong: return "frames filling the whole buffer (maybe cut short): dropped"
            case .gsoFrame: return "GSO super-frames (the device never offers GSO; should stay 0)"
            case .queueGone: return "queues whose reads failed for good (device deleted with its namespace); no longer read"
            }
        }
    }

    public static let registration = NodeRegistration(name: "tap-input", kind: .input, next: Next.self, errors: Error.self)

    let ports: TapPorts
    var toEthernet = Int32(0)
    var errNoBuffers = UInt32(0), errRunt = UInt32(0), errTooLong = UInt32(0), errGSO = UInt32(0), errGone = UInt32(0)
    /// A buffer kept from the last read that found the queue empty: an idle
    /// queue costs a read(2), not an alloc/free pair as well.
    var spare = BufferPool.invalid

    static let readOffset = BufferPool.headroom - Int(WEFT_VNET_HDR_LEN)
    static let readLength = BufferPool.bufferSize - readOffset

    public init(ports: TapPorts) {
        self.ports = ports
        super.init(registration: Self.registration)
    }

    public override func didResolve(_ graph: Graph) {
        toEthernet = nextIndex(Next.ethernetInput)
        errNoBuffers = errorIndex(Error.noBuffers)
        errRunt = errorIndex(Error.runt)
        errTooLong = errorIndex(Error.frameTooLong)
        errGSO = errorIndex(Error.gsoFrame)
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
            let n = weft_fd_read(fd, start, Self.readLength)
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
            if _slowPath(n == Self.readLength) { spare = bi; graph.count(errTooLong); continue }
            let hdrFlags = start.load(as: UInt8.self)
            let gsoType = (start + 1).load(as: UInt8.self)
            if _slowPath(gsoType != 0) { spare = bi; graph.count(errGSO); continue }
            let m = graph.metadata + Int(bi)
            m.pointee.dataOffset = UInt16(BufferPool.headroom)
            m.pointee.length = UInt16(truncatingIfNeeded: frameLength)
            m.pointee.rxInterface = UInt32(rx)
            m.pointee.flags = hdrFlags & UInt8(WEFT_VNET_F_NEEDS_CSUM) != 0 ? .l4ChecksumPending : []
            bytes &+= frameLength
            got &+= 1
            if _slowPath(traceBudget > 0) {
                let id = graph.trace.select(m, node: index)
                graph.trace.add(TraceRecord(packet: id, node: index, a: UInt64(rx), b: UInt64(frameLength), c: UInt64(hdrFlags)))
                traceBudget -= 1
            }
            graph.put(bi, &out)
        }
        graph.close(&out)
        graph.interfaces.rxPackets[rx] &+= UInt64(got)
        graph.interfaces.rxBytes[rx] &+= UInt64(bytes)
        return got
    }

    public override func formatTrace(_ r: TraceRecord) -> String {
        let csum = r.c & UInt64(WEFT_VNET_F_NEEDS_CSUM) != 0 ? " csum-partial" : ""
        return "tap-input: sw_if_index \(r.a), \(r.b) bytes\(csum)"
    }
}
