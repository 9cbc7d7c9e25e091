#if canImport(Glibc)
import Glibc
#endif
import CShims
import WeftEngine

/// Buffer chains to and from the kernel's scatter-gather calls (readv,
/// writev, sendmsg): a super-frame crosses the boundary in one call with no
/// copy on our side, its virtio-net header as the first piece. No
/// allocation: the vectors live on the stack.
public enum ChainIO {
    /// Pieces of the longest frame: its virtio-net header and every buffer.
    public static let maxPieces = BufferChain.maxBuffers &+ 1

    /// Calls `body` with the iovecs of `header` (VirtioNetHeader.length
    /// bytes) followed by every buffer of the chain `head` and their count.
    /// Returns -EMSGSIZE without calling it for a chain longer than
    /// `BufferChain.maxBuffers` (a corrupted one).
    @inline(__always)
    public static func withPieces(header: UnsafeMutableRawPointer, head: UInt32, graph: Graph,
                                  _ body: (UnsafePointer<iovec>, Int32) -> Int) -> Int {
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: maxPieces) { v -> Int in
            v[0] = iovec(iov_base: header, iov_len: VirtioNetHeader.length)
            var bi = head, k = 1
            while bi != BufferPool.invalid {
                if k == maxPieces { return -Int(EMSGSIZE) }
                let m = graph.metadata + Int(bi)
                v[k] = iovec(iov_base: graph.data(bi) + Int(m.pointee.dataOffset), iov_len: Int(m.pointee.length))
                k &+= 1
                bi = m.pointee.nextBuffer
            }
            return body(v.baseAddress!, Int32(k))
        }
    }

    /// The outcome of `read`.
    public enum ReadResult {
        /// A frame of `length` bytes (after its virtio-net header, which is in
        /// the first buffer's headroom just before `BufferPool.headroom`).
        case frame(head: UInt32, length: Int)
        /// Nothing to read (-EAGAIN), or the read failed (-errno).
        case failed(Int)
        /// Fewer bytes than a virtio-net header.
        case runt
        /// The frame filled every buffer: longer than `BufferChain.maxFrameLength`, maybe cut.
        case tooLong
        /// The pool could not give a whole chain; nothing was read.
        case noBuffers
    }

    /// Reads the next frame of `fd` (readv) straight into a new chain: the
    /// virtio-net header and the frame's first bytes into one buffer, the
    /// rest into as many more as it takes. Takes the buffers for the longest
    /// frame first (all or none) and gives back those it did not fill.
    /// `taken` has room for `BufferChain.maxBuffers`. Sets dataOffset,
    /// length, nextBuffer and chainLength; other metadata is the caller's.
    public static func read(_ fd: Int32, graph: Graph, taken: UnsafeMutablePointer<UInt32>) -> ReadResult {
        let most = BufferChain.maxBuffers
        guard BufferChain.take(most, into: taken, buffers: graph.buffers) else { return .noBuffers }
        let firstRoom = VirtioNetHeader.length &+ BufferPool.maxDataLength
        let n = withUnsafeTemporaryAllocation(of: iovec.self, capacity: most) { v -> Int in
            v[0] = iovec(iov_base: graph.data(taken[0]) + BufferPool.headroom - VirtioNetHeader.length, iov_len: firstRoom)
            for i in 1..<most { v[i] = iovec(iov_base: graph.data(taken[i]), iov_len: BufferChain.segmentCapacity) }
            return weft_fd_readv(fd, v.baseAddress, Int32(most))
        }
        let capacity = firstRoom &+ (most &- 1) &* BufferChain.segmentCapacity
        var result: ReadResult
        var used = 0
        if n < 0 {
            result = .failed(n)
        } else if n < VirtioNetHeader.length {
            result = .runt
        } else if n >= capacity || n &- VirtioNetHeader.length > BufferChain.maxFrameLength {
            result = .tooLong
        } else {
            let length = n &- VirtioNetHeader.length
            used = BufferChain.buffersNeeded(length)
            let md = graph.metadata
            var left = length
            for i in 0..<used {
                let m = md + Int(taken[i])
                let k = min(left, i == 0 ? BufferPool.maxDataLength : BufferChain.segmentCapacity)
                m.pointee.dataOffset = UInt16(i == 0 ? BufferPool.headroom : 0)
                m.pointee.length = UInt16(k)
                m.pointee.nextBuffer = i &+ 1 < used ? taken[i &+ 1] : BufferPool.invalid
                left &-= k
            }
            md[Int(taken[0])].chainLength = UInt32(length &- Int(md[Int(taken[0])].length))
            result = .frame(head: taken[0], length: length)
        }
        graph.buffers.free(taken + used, count: most &- used)
        return result
    }
}
