import CXDP
import WeftEngine

/// The two ring chores both AF_XDP nodes do on the worker: keep a port's fill
/// ring stocked with pool buffers, and take transmitted buffers back from its
/// completion ring. Both work in batches (one ring reservation or peek, one
/// producer/consumer update per batch).
extension AfXdpPorts {
    /// Refill when at least this many fill slots are free (a batch, not a trickle).
    @usableFromInline static let fillBatch: UInt32 = 64
    /// Completions taken per call.
    @usableFromInline static let completionBatch: UInt32 = 256

    /// Tops up `port`'s fill ring from `buffers`. Returns the number of
    /// allocations refused (pool empty); the ring then stays short until the
    /// next poll. Wakes the kernel when it asked (XDP_USE_NEED_WAKEUP).
    @inline(__always)
    func refillFill(_ port: UnsafeMutablePointer<AfXdpPort>, slot: Int32, buffers: WorkerBuffers) -> UInt32 {
        let free = weft_xsk_prod_free(&port.pointee.xsk.fill, AfXdpPorts.fillBatch)
        if free < AfXdpPorts.fillBatch { return 0 }
        var idx: UInt32 = 0
        let n = weft_xsk_prod_reserve(&port.pointee.xsk.fill, free, &idx)
        if n == 0 { return 0 }
        let tag = UInt16(truncatingIfNeeded: slot &+ 1)
        var filled: UInt32 = 0
        while filled < n {
            let bi = buffers.alloc()
            if _slowPath(bi == BufferPool.invalid) { break }
            owner[Int(bi)] = tag
            weft_xsk_fill_set(&port.pointee.xsk.fill, idx &+ filled, AfXdpAddress.address(bi))
            filled &+= 1
        }
        if _slowPath(filled < n) {
            // Give back the reserved slots we could not stock (nothing submitted yet).
            port.pointee.xsk.fill.cached_prod &-= n &- filled
        }
        if filled > 0 {
            weft_xsk_prod_submit(&port.pointee.xsk.fill, filled)
            if weft_xsk_prod_needs_wakeup(&port.pointee.xsk.fill) != 0 { _ = weft_xsk_kick_rx(port.pointee.xsk.fd) }
        }
        return n &- filled
    }

    /// Frees every buffer the kernel has finished transmitting on `port`.
    /// Returns how many.
    @inline(__always)
    func reapCompletions(_ port: UnsafeMutablePointer<AfXdpPort>, buffers: WorkerBuffers) -> UInt32 {
        var total: UInt32 = 0
        while true {
            var idx: UInt32 = 0
            let n = weft_xsk_cons_peek(&port.pointee.xsk.comp, AfXdpPorts.completionBatch, &idx)
            if n == 0 { break }
            for k in 0..<n {
                let bi = AfXdpAddress.bufferIndex(weft_xsk_comp_addr(&port.pointee.xsk.comp, idx &+ k))
                owner[Int(bi)] = 0
                buffers.free(bi)
            }
            weft_xsk_cons_release(&port.pointee.xsk.comp, n)
            total &+= n
            if n < AfXdpPorts.completionBatch { break }
        }
        return total
    }
}
